// Package demo writes the demo's synthetic data: street-like images drawn
// from a seeded random scene, each with the perceived-safety score its scene
// implies, in the ground-truth format vlmcmp reads, and the demo's config.
//
// The scenes vary what people say makes a street feel safe: daylight or
// night, street lights, greenery, a clear wide road, clutter and graffiti.
// The score is a fixed function of those (plus a little noise), so a model
// could in principle learn it from the pictures; the demo's local model has
// random weights and does not.
package demo

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/vlmcmp/vlmcmp/llm"
)

// Image size of the demo's pictures, in pixels.
const (
	Width  = 224
	Height = 168
)

// Record is one ground-truth record as the demo writes it: the image path
// relative to the data file, the score and the prompt (llm.DefaultPrompt).
type Record struct {
	Image       string  `json:"image"`
	SafetyScore float64 `json:"safety_score"`
	Prompt      string  `json:"prompt"`
}

// Scene is what one image shows.
type Scene struct {
	Daylight   float64 // 0 night .. 1 noon
	Lights     int     // street lights, 0..5
	Greenery   float64 // 0..1, share of trees
	RoadWidth  float64 // 0.2..0.6 of the image width at the bottom
	Clutter    float64 // 0..1: litter, graffiti, broken windows
	Windows    float64 // 0..1: lit or intact windows ("eyes on the street")
	BuildingsH float64 // 0.3..0.8 of the height
}

// Score is the safety score the scene implies, 1..10 in whole points.
func (s Scene) Score(noise float64) float64 {
	v := 2 + 3*s.Daylight + 0.5*float64(s.Lights)*(1-s.Daylight) + 1.5*s.Greenery +
		2*s.RoadWidth + 1.5*s.Windows - 4*s.Clutter + noise
	return math.Max(1, math.Min(10, math.Round(v)))
}

func randomScene(r *rand.Rand) Scene {
	return Scene{
		Daylight:   r.Float64(),
		Lights:     r.IntN(6),
		Greenery:   r.Float64(),
		RoadWidth:  0.2 + 0.4*r.Float64(),
		Clutter:    r.Float64() * r.Float64(),
		Windows:    r.Float64(),
		BuildingsH: 0.3 + 0.5*r.Float64(),
	}
}

// WriteDataset writes n images under dir/images and the ground truth
// dir/ground_truth.json, and returns the data file's path. The same seed
// gives the same files.
func WriteDataset(dir string, n int, seed uint64) (string, error) {
	if n <= 0 {
		return "", fmt.Errorf("demo dataset: %d images", n)
	}
	imgDir := filepath.Join(dir, "images")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return "", fmt.Errorf("demo dataset: %w", err)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	recs := make([]Record, n)
	for i := range recs {
		sc := randomScene(r)
		img := Draw(sc, r.Uint64())
		name := fmt.Sprintf("images/street_%03d.png", i)
		if err := writePNG(filepath.Join(dir, name), img); err != nil {
			return "", err
		}
		recs[i] = Record{Image: name, SafetyScore: sc.Score(r.NormFloat64() * 0.5), Prompt: llm.DefaultPrompt}
	}
	data, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "ground_truth.json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("demo dataset: %w", err)
	}
	return path, nil
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("demo image: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("demo image %s: %w", path, err)
	}
	return f.Close()
}

// Draw paints a scene: sky, buildings with windows on both sides, a road in
// perspective, trees, street lights and clutter. seed varies the details.
func Draw(s Scene, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	lerp := func(a, b uint8, t float64) uint8 { return uint8(float64(a) + (float64(b)-float64(a))*t) }
	horizon := Height * 45 / 100
	// Sky: night blue to day blue, lighter near the horizon.
	for y := 0; y < horizon; y++ {
		t := float64(y) / float64(horizon)
		c := color.RGBA{lerp(10, 120, s.Daylight), lerp(15, 170, s.Daylight), lerp(40, 235, s.Daylight), 255}
		c.R, c.G, c.B = lerp(c.R, 255, t*0.3*s.Daylight), lerp(c.G, 255, t*0.3*s.Daylight), lerp(c.B, 255, t*0.2)
		for x := 0; x < Width; x++ {
			img.SetRGBA(x, y, c)
		}
	}
	// Ground: pavement.
	pave := color.RGBA{lerp(30, 150, s.Daylight), lerp(30, 145, s.Daylight), lerp(35, 140, s.Daylight), 255}
	fill(img, 0, horizon, Width, Height, pave)
	// Road in perspective.
	road := color.RGBA{lerp(15, 70, s.Daylight), lerp(15, 70, s.Daylight), lerp(20, 75, s.Daylight), 255}
	for y := horizon; y < Height; y++ {
		t := float64(y-horizon) / float64(Height-horizon)
		half := int((0.02 + s.RoadWidth*t) * Width / 2)
		for x := Width/2 - half; x < Width/2+half; x++ {
			img.SetRGBA(x, y, road)
		}
		if (y/6)%2 == 0 && t > 0.1 {
			img.SetRGBA(Width/2, y, color.RGBA{220, 210, 120, 255})
		}
	}
	// Buildings on both sides with windows.
	top := int(float64(horizon) * (1 - s.BuildingsH))
	for side := 0; side < 2; side++ {
		x0 := 0
		for x0 < Width/2-int(s.RoadWidth*Width/2)-8 {
			w := 20 + r.IntN(25)
			h := top + r.IntN(20)
			bx := x0
			if side == 1 {
				bx = Width - x0 - w
			}
			shade := uint8(60 + r.IntN(80))
			bc := color.RGBA{lerp(shade/3, shade, s.Daylight), lerp(shade/3, shade-10, s.Daylight), lerp(shade/3, shade-20, s.Daylight), 255}
			fill(img, bx, h, bx+w, horizon+10, bc)
			for wy := h + 4; wy < horizon; wy += 9 {
				for wx := bx + 3; wx < bx+w-4; wx += 7 {
					var wc color.RGBA
					switch {
					case r.Float64() < s.Clutter*0.5:
						wc = color.RGBA{20, 20, 20, 255} // broken or boarded
					case r.Float64() < s.Windows:
						wc = color.RGBA{255, 230, 140, 255} // lit
					default:
						wc = color.RGBA{lerp(10, 90, s.Daylight), lerp(10, 110, s.Daylight), lerp(20, 140, s.Daylight), 255}
					}
					fill(img, wx, wy, wx+4, wy+5, wc)
				}
			}
			x0 += w + 2
		}
	}
	// Trees.
	for i := 0; i < int(s.Greenery*8); i++ {
		cx := r.IntN(Width)
		if cx > Width/2-30 && cx < Width/2+30 {
			continue
		}
		cy := horizon + r.IntN(Height-horizon)/2
		rad := 6 + r.IntN(10)
		disc(img, cx, cy-rad, rad, color.RGBA{lerp(10, 40, s.Daylight), lerp(40, 140, s.Daylight), lerp(10, 40, s.Daylight), 255})
		fill(img, cx-1, cy-rad, cx+2, cy+rad/2, color.RGBA{70, 45, 20, 255})
	}
	// Street lights with a glow at night.
	for i := 0; i < s.Lights; i++ {
		x := 10 + i*(Width-20)/max(1, s.Lights)
		if x > Width/2-25 && x < Width/2+25 {
			x += 50
		}
		x = min(x, Width-4)
		fill(img, x, horizon-30, x+2, horizon+30, color.RGBA{50, 50, 55, 255})
		glow := 3 + int(8*(1-s.Daylight))
		disc(img, x+1, horizon-32, glow, color.RGBA{255, 240, lerp(200, 160, s.Daylight), 255})
	}
	// Clutter: litter and graffiti dots on the pavement and walls.
	for i := 0; i < int(s.Clutter*300); i++ {
		x, y := r.IntN(Width), horizon-20+r.IntN(Height-horizon+20)
		img.SetRGBA(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
	}
	return img
}

func fill(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	for y := max(y0, 0); y < min(y1, Height); y++ {
		for x := max(x0, 0); x < min(x1, Width); x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func disc(img *image.RGBA, cx, cy, rad int, c color.RGBA) {
	for y := cy - rad; y <= cy+rad; y++ {
		for x := cx - rad; x <= cx+rad; x++ {
			if (x-cx)*(x-cx)+(y-cy)*(y-cy) <= rad*rad && image.Pt(x, y).In(img.Bounds()) {
				img.SetRGBA(x, y, c)
			}
		}
	}
}
