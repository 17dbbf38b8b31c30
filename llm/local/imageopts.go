package local

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/imageprep"
)

// ImageOptions say how an image file becomes the pixels the vision encoder
// gets (package imageprep; README "What the model sees"). The zero value
// is transformers' way: EXIF orientation applied, Pillow's BICUBIC to
// smart_resize's size within the image-token bounds (Config.ImageMinTokens
// and ImageMaxTokens), the family's defaults.
type ImageOptions struct {
	// Resample is imageprep.Bicubic (default), Bilinear, Nearest or
	// LlamaCpp (mtmd resizes, as llama-server does).
	Resample imageprep.Resample
	// Orientation is imageprep.OrientEXIF (default) or OrientIgnore.
	Orientation imageprep.Orientation
	// Preprocessor is the model's preprocessor_config.json from Hugging
	// Face: its pixel bounds and resample replace the family's defaults
	// (image-token bounds set in Config still win), and its patch size,
	// merge size and normalisation must be the projector's. "": the
	// family's defaults.
	Preprocessor string
}

// ParseImageOptions reads the image options as the command line and the
// config file spell them: resample bicubic|bilinear|nearest|llama.cpp
// ("" bicubic), orientation exif|ignore ("" exif), and a preprocessor file
// (read later, by New). The error is one sentence, [usage.Error].
func ParseImageOptions(resample, orientation, preprocessor string) (ImageOptions, error) {
	var o ImageOptions
	var err error
	if o.Resample, err = imageprep.ParseResample(resample); err != nil {
		return o, configErrorf("local: %v", err)
	}
	if o.Orientation, err = imageprep.ParseOrientation(orientation); err != nil {
		return o, configErrorf("local: %v", err)
	}
	o.Preprocessor = preprocessor
	return o, nil
}

// Preprocessor is what vlmcmp takes from a preprocessor_config.json.
type Preprocessor struct {
	MinPixels, MaxPixels int
	Resample             imageprep.Resample
	// SHA256 is the file's hash, for the model's identity.
	SHA256 string
}

// pilResample maps PIL's resample codes to the ones imageprep has.
var pilResample = map[int]imageprep.Resample{0: imageprep.Nearest, 2: imageprep.Bilinear, 3: imageprep.Bicubic}

// ReadPreprocessor reads a Hugging Face preprocessor_config.json for a
// model of family fam (nil: not checked against one). It takes min_pixels
// and max_pixels, or size.shortest_edge and size.longest_edge (the same
// areas under newer names), and resample, and checks that patch_size,
// merge_size, image_mean and image_std are fam's, since llama.cpp's
// projector fixes them; what it cannot honour it refuses in one sentence
// naming the file.
func ReadPreprocessor(path string, fam *family.Family) (*Preprocessor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("preprocessor: %w", err)
	}
	var f struct {
		MinPixels *float64 `json:"min_pixels"`
		MaxPixels *float64 `json:"max_pixels"`
		Size      *struct {
			ShortestEdge *float64 `json:"shortest_edge"`
			LongestEdge  *float64 `json:"longest_edge"`
		} `json:"size"`
		PatchSize     *int      `json:"patch_size"`
		MergeSize     *int      `json:"merge_size"`
		Resample      *int      `json:"resample"`
		ImageMean     []float64 `json:"image_mean"`
		ImageStd      []float64 `json:"image_std"`
		DoResize      *bool     `json:"do_resize"`
		DoNormalize   *bool     `json:"do_normalize"`
		RescaleFactor *float64  `json:"rescale_factor"`
		DoRescale     *bool     `json:"do_rescale"`
		DoConvertRGB  *bool     `json:"do_convert_rgb"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("preprocessor %s: not a preprocessor_config.json: %v", path, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("preprocessor %s: %s", path, fmt.Sprintf(format, a...))
	}
	p := &Preprocessor{Resample: imageprep.Bicubic}
	sum := sha256.Sum256(data)
	p.SHA256 = hex.EncodeToString(sum[:])
	lo, hi := f.MinPixels, f.MaxPixels
	if f.Size != nil {
		if lo == nil {
			lo = f.Size.ShortestEdge
		}
		if hi == nil {
			hi = f.Size.LongestEdge
		}
	}
	if lo == nil || hi == nil {
		return nil, bad("has no min_pixels and max_pixels (or size.shortest_edge and size.longest_edge), which a Qwen-VL processor needs")
	}
	if *lo <= 0 || *hi < *lo || *lo != math.Trunc(*lo) || *hi != math.Trunc(*hi) || *hi > 1<<40 {
		return nil, bad("min_pixels %v and max_pixels %v are not whole pixel counts with 0 < min <= max", *lo, *hi)
	}
	p.MinPixels, p.MaxPixels = int(*lo), int(*hi)
	if f.Resample != nil {
		r, ok := pilResample[*f.Resample]
		if !ok {
			return nil, bad("resample %d is not one vlmcmp has (0 nearest, 2 bilinear, 3 bicubic)", *f.Resample)
		}
		p.Resample = r
	}
	switch {
	case f.DoResize != nil && !*f.DoResize:
		return nil, bad("do_resize is false, and llama.cpp's projector needs sides that are multiples of the patch size")
	case f.DoConvertRGB != nil && !*f.DoConvertRGB:
		return nil, bad("do_convert_rgb is false, and vlmcmp always converts to RGB")
	case f.DoRescale != nil && !*f.DoRescale, f.DoNormalize != nil && !*f.DoNormalize:
		return nil, bad("turns rescaling or normalisation off, which llama.cpp's projector always does")
	case f.RescaleFactor != nil && math.Abs(*f.RescaleFactor-1.0/255) > 1e-9:
		return nil, bad("rescale_factor %v is not 1/255, which llama.cpp's projector uses", *f.RescaleFactor)
	}
	if fam == nil {
		return p, nil
	}
	if f.PatchSize != nil && *f.PatchSize != fam.Patch {
		return nil, bad("patch_size %d is not the %s projector's %d", *f.PatchSize, fam.Title, fam.Patch)
	}
	if f.MergeSize != nil && *f.MergeSize != fam.Merge {
		return nil, bad("merge_size %d is not the %s projector's %d", *f.MergeSize, fam.Title, fam.Merge)
	}
	for _, v := range []struct {
		name string
		got  []float64
		want [3]float32
	}{{"image_mean", f.ImageMean, fam.ImageMean}, {"image_std", f.ImageStd, fam.ImageStd}} {
		if v.got == nil {
			continue
		}
		if len(v.got) != 3 {
			return nil, bad("%s has %d values, want 3", v.name, len(v.got))
		}
		for i := range 3 {
			if math.Abs(v.got[i]-float64(v.want[i])) > 1e-6 {
				return nil, bad("%s %v is not the %s projector's %v, which llama.cpp normalises with", v.name, v.got, fam.Title, v.want)
			}
		}
	}
	if p.MaxPixels < fam.TokenPixels() {
		return nil, bad("max_pixels %d is less than one %s token (%d pixels)", p.MaxPixels, fam.Title, fam.TokenPixels())
	}
	return p, nil
}

// imagePlan is what the preparer does to each image: Config's options
// resolved against the family and the preprocessor file (fill).
type imagePlan struct {
	opts imageprep.Options
	// hfMin and hfMax are Hugging Face's default pixel bounds for the
	// family; zero when a preprocessor file sets the bounds (nothing to
	// compare) or the family is unknown.
	hfMin, hfMax int
	fam          *family.Family
	pre          *Preprocessor // nil without a file
	// key names the plan among those sharing a projector (its identity),
	// for pixels prepared once per run (shared.go).
	key string
	// below counts images scaled below what hfMax keeps; seen, all images.
	mu          sync.Mutex
	below, seen int
}

// planImages resolves c's image options for fam (nil: no family known;
// factor 28 and no comparison), after the token bounds are filled. It
// reads the preprocessor file.
func (c *Config) planImages(fam *family.Family) error {
	pl := &imagePlan{fam: fam, opts: imageprep.Options{Resample: c.Image.Resample, Orientation: c.Image.Orientation, Factor: 28}}
	if fam != nil {
		pl.opts.Factor = fam.Patch * fam.Merge
	}
	f2 := pl.opts.Factor * pl.opts.Factor
	pl.opts.MinPixels, pl.opts.MaxPixels = c.ImageMinTokens*f2, c.ImageMaxTokens*f2
	if c.Image.Preprocessor != "" {
		pre, err := ReadPreprocessor(c.Image.Preprocessor, fam)
		if err != nil {
			return err
		}
		pl.pre = pre
		if c.Image.Resample == imageprep.Bicubic {
			pl.opts.Resample = pre.Resample
		}
		// Bounds the user set in tokens win; fill then made the others
		// from the family. The file's bounds replace the defaulted ones.
		if !c.userMinTokens {
			pl.opts.MinPixels = pre.MinPixels
			c.ImageMinTokens = (pre.MinPixels + f2 - 1) / f2
		}
		if !c.userMaxTokens {
			pl.opts.MaxPixels = pre.MaxPixels
			c.ImageMaxTokens = pre.MaxPixels / f2
		}
		if c.ImageMinTokens > c.ImageMaxTokens || pl.opts.MinPixels > pl.opts.MaxPixels {
			return fmt.Errorf("local: preprocessor %s: its pixel bounds %d..%d give no image size within %d..%d tokens",
				c.Image.Preprocessor, pl.opts.MinPixels, pl.opts.MaxPixels, c.ImageMinTokens, c.ImageMaxTokens)
		}
	} else if fam != nil {
		pl.hfMin, pl.hfMax = fam.MinPixels, fam.MaxPixels
	}
	pl.key = fmt.Sprint(pl.identity())
	c.plan = pl
	return nil
}

// prepareImage turns an encoded image into the RGB the encoder gets, and
// counts it against Hugging Face's default budget.
// A nil plan (a Config never filled) leaves the image at its size for mtmd.
func (pl *imagePlan) prepareImage(data []byte) (*imageprep.Result, error) {
	res, err := pl.prepareOnly(data)
	if err != nil {
		return nil, err
	}
	pl.count(res)
	return res, nil
}

// prepareOnly is prepareImage without the count, for pixels prepared once
// for several models (each counts them).
func (pl *imagePlan) prepareOnly(data []byte) (*imageprep.Result, error) {
	if pl == nil {
		return imageprep.Prepare(data, imageprep.Options{Resample: imageprep.LlamaCpp})
	}
	return imageprep.Prepare(data, pl.opts)
}

// count counts res against Hugging Face's default budget for the family.
func (pl *imagePlan) count(res *imageprep.Result) {
	if pl == nil || pl.hfMax == 0 || pl.opts.Resample == imageprep.LlamaCpp {
		return
	}
	below := false
	if h, w, err := imageprep.SmartResize(res.SourceHeight, res.SourceWidth, pl.opts.Factor, pl.hfMin, pl.hfMax); err == nil && w*h > res.Width*res.Height {
		below = true
		slog.Debug("local: image scaled below Hugging Face's default", "source", fmt.Sprintf("%dx%d", res.SourceWidth, res.SourceHeight),
			"encoder", fmt.Sprintf("%dx%d", res.Width, res.Height), "hf_default", fmt.Sprintf("%dx%d", w, h))
	}
	pl.mu.Lock()
	pl.seen++
	if below {
		pl.below++
	}
	pl.mu.Unlock()
}

// shareKey is pl.key; "" for a nil plan.
func (pl *imagePlan) shareKey() string {
	if pl == nil {
		return ""
	}
	return pl.key
}

// identity is the image options' part of the model's identity.
func (pl *imagePlan) identity() map[string]string {
	if pl == nil {
		return nil
	}
	id := map[string]string{"resample": pl.opts.Resample.String(), "orientation": pl.opts.Orientation.String()}
	if pl.pre != nil {
		id["preprocessor.sha256"] = pl.pre.SHA256
		id["image_pixels"] = fmt.Sprintf("%d..%d", pl.opts.MinPixels, pl.opts.MaxPixels)
	}
	return id
}

// ImageIdentity is the part of the model's identity (run.json, the
// response cache key) that the image options add, as [Resolve] resolved
// them: how images are resampled ("resample") and oriented
// ("orientation"), and with a preprocessor file its hash
// ("preprocessor.sha256") and pixel bounds ("image_pixels"). The token
// bounds are the config's own fields. Nil for a Config not resolved.
func (c Config) ImageIdentity() map[string]string { return c.plan.identity() }

// ImageBudgetNote reports how many of the images prepared so far were
// scaled below what Hugging Face's processor for the family keeps by
// default (Qwen2-VL: up to 12,845,056 pixels; vlmcmp's default budget is
// 1,024 tokens, 802,816 pixels), with a sentence for the user, "" when none
// was or when a preprocessor file sets the budget. A runner prints it once
// at the end of a run.
func (p *Predictor) ImageBudgetNote() (below, seen int, note string) {
	pl := p.cfg.plan
	if pl == nil {
		return 0, 0, ""
	}
	pl.mu.Lock()
	below, seen = pl.below, pl.seen
	pl.mu.Unlock()
	if below == 0 {
		return below, seen, ""
	}
	f2 := pl.opts.Factor * pl.opts.Factor
	return below, seen, fmt.Sprintf("%d of %d images were scaled below what Hugging Face's %s processor keeps by default (up to %s pixels; here %s tokens, %s pixels): if the model was trained at full size, give its preprocessor_config.json (preprocessor:) or raise image_max_tokens",
		below, seen, pl.fam.Title, thousands(pl.hfMax), thousands(pl.opts.MaxPixels/f2), thousands(pl.opts.MaxPixels))
}

// thousands writes n with commas.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
