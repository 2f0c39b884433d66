package web_test

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// sameInEveryLanguage are the messages that may read the same in a
// translation as in English: units and punctuation written alike.
var sameInEveryLanguage = map[string]map[string]bool{
	"zh": {"size_kb": true, "size_mb": true, "size_gb": true, "net_word_none": true},
	"ru": {"list_sep": true, "net_word_none": true},
}

// untranslatable are the Latin words that a Chinese or Russian page may
// show: the product's and formats' names, and the language switch's own
// "English".
var untranslatable = map[string]bool{"MCU": true, "WebM": true, "webm": true, "MP4": true, "English": true}

// TestBrowserLanguages checks that the three message tables have the same
// keys, the same placeholders and a real translation of each message; that
// the browser's languages choose the page's; and that, switched to Chinese
// and to Russian with the page's language control, the rendered page (in
// the room, with every panel's texts, labels for screen readers, titles and
// placeholders, hidden ones included) holds no English word, and in English
// no Chinese or Russian.
func TestBrowserLanguages(t *testing.T) {
	needChromium(t)
	base := startBrowserServer(t)
	p := openBrowser(t, "lang", fakeCamera(t, t.TempDir(), "lang", "0x00FF00"))
	// A browser set to Russian first.
	if err := p.run(5*time.Second, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := cdppage.AddScriptToEvaluateOnNewDocument(
			`Object.defineProperty(navigator, 'languages', {get: () => ['ru-RU', 'en-US']})`).Do(ctx)
		return err
	})); err != nil {
		t.Fatal(err)
	}
	// Names of digits, which belong to every language.
	if err := p.run(10*time.Second, chromedp.Navigate(base+"/?room=L&name=7&autojoin=1")); err != nil {
		t.Fatal(err)
	}
	p.waitJS(20*time.Second, "connected", `window.mcu.state === 'connected'`)
	var lang string
	p.mustEval(`window.mcu.lang + ' ' + document.documentElement.lang`, &lang)
	if lang != "ru ru" {
		t.Errorf("a browser preferring ru-RU got the page in %q, want ru", lang)
	}

	var tables map[string]map[string]string
	p.mustEval(`window.mcu.messages`, &tables)
	checkTables(t, tables)

	// Fill the texts built from state: a recording made here, a recording
	// on the server, the connection figures.
	p.click("#local-rec-start")
	p.waitJS(5*time.Second, "recording in the browser", `!!window.mcu.localRecording || /\d/.test(document.querySelector('#local-rec-info').textContent)`)
	p.click("#local-rec-stop")
	p.waitJS(5*time.Second, "recorded in the browser", `!!window.mcu.localRecording`)
	p.setValue("#rec-name", "42")
	p.click("#rec-start")
	p.waitJS(5*time.Second, "server recording listed", `!!document.querySelector('#recordings li')`)
	p.click("#rec-stop")
	p.waitJS(5*time.Second, "connection figures", `document.querySelector('#net-details').textContent !== ''`)

	for _, lang := range []string{"zh", "ru", "en"} {
		p.setValue("#lang", lang)
		var texts []string
		p.mustEval(pageTextsJS, &texts)
		var htmlLang string
		p.mustEval(`document.documentElement.lang`, &htmlLang)
		if want := tables[lang]["html_lang"]; htmlLang != want {
			t.Errorf("%s: <html lang=%q>, want %q", lang, htmlLang, want)
		}
		if len(texts) < 80 {
			t.Fatalf("%s: only %d texts found on the page: %q", lang, len(texts), texts)
		}
		for _, s := range texts {
			if bad := foreign(lang, s); bad != "" {
				t.Errorf("%s page shows %q (%s)", lang, s, bad)
			}
		}
		t.Logf("%s: %d texts checked", lang, len(texts))
	}
	// The choice is remembered.
	p.setValue("#lang", "zh")
	if err := p.run(10*time.Second, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	p.waitJS(5*time.Second, "Chinese after a reload", `window.mcu.lang === 'zh' && document.querySelector('#join').textContent === '加入'`)
}

// checkTables compares the three tables key by key.
func checkTables(t *testing.T, tables map[string]map[string]string) {
	t.Helper()
	en := tables["en"]
	if len(en) < 100 {
		t.Fatalf("the English table has %d messages", len(en))
	}
	ph := regexp.MustCompile(`\{\w+\}`)
	placeholders := func(s string) string {
		m := ph.FindAllString(s, -1)
		sort.Strings(m)
		return strings.Join(m, " ")
	}
	for _, lang := range []string{"zh", "ru"} {
		tr := tables[lang]
		for k, v := range en {
			got, ok := tr[k]
			switch {
			case !ok:
				t.Errorf("%s: no message %q (en %q)", lang, k, v)
			case got == v && !sameInEveryLanguage[lang][k]:
				t.Errorf("%s: message %q is not translated: %q", lang, k, got)
			case got == "" && v != "":
				t.Errorf("%s: message %q is empty", lang, k)
			case placeholders(got) != placeholders(v):
				t.Errorf("%s: message %q has placeholders %q, English %q", lang, k, placeholders(got), placeholders(v))
			}
		}
		for k := range tr {
			if _, ok := en[k]; !ok {
				t.Errorf("%s: message %q is not in the English table", lang, k)
			}
		}
	}
}

// pageTextsJS lists every text of the page a person can meet: text nodes
// (hidden ones too) and the labels, titles and placeholders of elements,
// leaving out the language switch's options, which name each language in
// itself, and the names of devices, which come from the system.
const pageTextsJS = `(() => {
	const out = [];
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		const s = n.textContent.trim();
		if (!s || n.parentElement.closest('script, style, #lang, option.device')) continue;
		out.push(s);
	}
	for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
		for (const a of ['aria-label', 'title', 'placeholder']) {
			const s = el.getAttribute(a);
			if (s) out.push(s);
		}
	}
	out.push(document.title);
	return out;
})()`

var (
	latinWord = regexp.MustCompile(`[A-Za-z]{3,}`)
	cyrillic  = regexp.MustCompile(`\p{Cyrillic}`)
	han       = regexp.MustCompile(`\p{Han}`)
)

// foreign says what in s does not belong on a page in lang, or "".
func foreign(lang, s string) string {
	switch lang {
	case "en":
		if cyrillic.MatchString(s) || han.MatchString(s) {
			return "Chinese or Russian on the English page"
		}
		return ""
	case "zh":
		if cyrillic.MatchString(s) {
			return "Russian on the Chinese page"
		}
	case "ru":
		if han.MatchString(s) {
			return "Chinese on the Russian page"
		}
	}
	for _, w := range latinWord.FindAllString(s, -1) {
		if !untranslatable[w] {
			return "untranslated word " + w
		}
	}
	return ""
}
