package transcode

// YUV is a colour in limited-range BT.601 YCbCr.
type YUV struct{ Y, U, V uint8 }

// RGB converts an 8-bit RGB colour to YUV.
func RGB(r, g, b uint8) YUV {
	fr, fg, fb := float64(r), float64(g), float64(b)
	y := 16 + 0.257*fr + 0.504*fg + 0.098*fb
	u := 128 - 0.148*fr - 0.291*fg + 0.439*fb
	v := 128 + 0.439*fr - 0.368*fg - 0.071*fb
	return YUV{clamp8(y), clamp8(u), clamp8(v)}
}

func clamp8(v float64) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v + 0.5)
}
