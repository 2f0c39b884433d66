package mixer

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// fontQueries are asked of fontconfig in order: fonts that cover Chinese,
// Japanese, Korean, Cyrillic and Latin in one file come first.
var fontQueries = []string{"Noto Sans CJK SC", "Noto Sans CJK", "WenQuanYi Zen Hei", "DejaVu Sans"}

// fontPaths are Debian's paths of the same fonts, for machines without
// fontconfig's command line tools.
var fontPaths = []string{
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
}

// ErrNoFont says no font file was found: names fall back to a Latin-only
// bitmap font.
var ErrNoFont = errors.New("mixer: no font for names found (install fonts-noto-cjk and fontconfig: scripts/deps.sh)")

var fontOnce struct {
	sync.Once
	f    *sfnt.Font
	path string
	err  error
}

// LabelFont returns the font names on tiles are drawn with and its file,
// loading it on first use.
func LabelFont() (*sfnt.Font, string, error) {
	fontOnce.Do(func() {
		fontOnce.f, fontOnce.path, fontOnce.err = loadFont()
	})
	return fontOnce.f, fontOnce.path, fontOnce.err
}

func loadFont() (*sfnt.Font, string, error) {
	var candidates []string
	if fc, err := exec.LookPath("fc-match"); err == nil {
		for _, q := range fontQueries {
			out, err := exec.Command(fc, "-f", "%{file}", q).Output()
			if err == nil && len(out) > 0 {
				candidates = append(candidates, strings.TrimSpace(string(out)))
			}
		}
	}
	candidates = append(candidates, fontPaths...)
	for _, p := range candidates {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		f, err := parseFont(data)
		if err != nil {
			continue
		}
		// fc-match answers with its best match even when it has nothing
		// like the query: only a font with Han and Cyrillic glyphs will do,
		// unless it is the last resort.
		if covers(f, "名Я") || p == fontPaths[len(fontPaths)-1] {
			return f, p, nil
		}
	}
	return nil, "", ErrNoFont
}

func parseFont(data []byte) (*sfnt.Font, error) {
	c, err := opentype.ParseCollection(data)
	if err != nil {
		return nil, fmt.Errorf("mixer: parsing font: %w", err)
	}
	if c.NumFonts() < 1 {
		return nil, fmt.Errorf("mixer: font collection is empty")
	}
	return c.Font(0)
}

// covers reports whether f has a glyph for every rune of s.
func covers(f *sfnt.Font, s string) bool {
	var b sfnt.Buffer
	for _, r := range s {
		if i, err := f.GlyphIndex(&b, r); err != nil || i == 0 {
			return false
		}
	}
	return true
}

// Label is a rendered text mask: one coverage byte per pixel, W x H.
type Label struct {
	Mask []byte
	W, H int
}

type labelKey struct {
	text     string
	px, maxW int
}

// labels caches rendered names for every compositor: a name is drawn into a
// mask once per size, never per frame.
var labels struct {
	sync.Mutex
	m     map[labelKey]Label
	faces map[int]font.Face // faces are not safe for concurrent use: held under the lock
}

const maxCachedLabels = 512

// RenderLabel returns text drawn px pixels high (line height), cut to at
// most maxW pixels wide with an ellipsis.
func RenderLabel(text string, px, maxW int) Label {
	if text == "" || px < 4 || maxW <= 0 {
		return Label{}
	}
	k := labelKey{text, px, maxW}
	labels.Lock()
	defer labels.Unlock()
	if l, ok := labels.m[k]; ok {
		return l
	}
	if labels.m == nil || len(labels.m) >= maxCachedLabels {
		labels.m = map[labelKey]Label{}
	}
	l := drawText(faceFor(px), text, maxW)
	labels.m[k] = l
	return l
}

// faceFor returns the face for a line height of px pixels; the caller holds
// labels' lock.
func faceFor(px int) font.Face {
	if f, ok := labels.faces[px]; ok {
		return f
	}
	var face font.Face = basicfont.Face7x13
	if f, _, err := LabelFont(); err == nil {
		// Noto CJK's line is about 1.45 em: size the em so the line fits.
		if ff, err := opentype.NewFace(f, &opentype.FaceOptions{Size: float64(px) / 1.3, DPI: 72, Hinting: font.HintingFull}); err == nil {
			face = ff
		}
	}
	if labels.faces == nil {
		labels.faces = map[int]font.Face{}
	}
	labels.faces[px] = face
	return face
}

func drawText(face font.Face, text string, maxW int) Label {
	d := &font.Drawer{Face: face}
	if d.MeasureString(text).Ceil() > maxW {
		rs := []rune(text)
		for len(rs) > 0 && d.MeasureString(string(rs)+"…").Ceil() > maxW {
			rs = rs[:len(rs)-1]
		}
		if len(rs) == 0 {
			return Label{}
		}
		text = string(rs) + "…"
	}
	m := face.Metrics()
	w, h := d.MeasureString(text).Ceil(), (m.Ascent + m.Descent).Ceil()
	if w <= 0 || h <= 0 {
		return Label{}
	}
	img := image.NewAlpha(image.Rect(0, 0, w, h))
	d.Dst = img
	d.Src = image.NewUniform(color.Alpha{A: 255})
	d.Dot = fixed.Point26_6{X: 0, Y: m.Ascent}
	d.DrawString(text)
	return Label{Mask: img.Pix, W: w, H: h}
}
