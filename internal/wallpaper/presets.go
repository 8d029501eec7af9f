package wallpaper

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Preset is a style a user can pick: the server adds its words to the
// prompt the model gets; the user's own text is what is stored, shown and
// moderated.
type Preset struct {
	ID          string
	Name        string // shown to users (Chinese)
	Description string // shown to users (Chinese)
	Words       string // added to the prompt the model gets
}

// Presets are the styles on offer, in the order clients show them.
var Presets = []Preset{
	{ID: "guofeng", Name: "国风", Description: "水墨与工笔的东方意境",
		Words: "traditional Chinese painting style, ink wash and gongbi, elegant, muted colours, rice paper texture"},
	{ID: "anime", Name: "二次元", Description: "日系动漫插画风格",
		Words: "anime illustration style, vibrant colours, clean line art, cel shading"},
	{ID: "cyberpunk", Name: "赛博朋克", Description: "霓虹灯下的未来都市",
		Words: "cyberpunk style, neon lights, futuristic city at night, magenta and cyan glow"},
	{ID: "watercolor", Name: "水彩", Description: "通透柔和的水彩质感",
		Words: "watercolor painting, soft washes, visible paper texture, pastel colours"},
	{ID: "minimal", Name: "极简", Description: "干净留白的极简构图",
		Words: "minimalist, clean composition, large negative space, flat colours"},
	{ID: "oil", Name: "油画", Description: "厚涂笔触的古典油画",
		Words: "oil painting, thick impasto brush strokes, rich warm colours, classical"},
	{ID: "pixel", Name: "像素", Description: "复古像素游戏画面",
		Words: "pixel art, 16-bit retro game style, crisp pixels, limited palette"},
}

// PresetsVersion changes whenever the presets do, so clients know to
// fetch them again.
var PresetsVersion = func() string {
	h := sha256.New()
	for _, p := range Presets {
		h.Write([]byte(p.ID + "\x00" + p.Name + "\x00" + p.Description + "\x00" + p.Words + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// ErrUnknownPreset is a preset id we do not offer.
var ErrUnknownPreset = failure.InvalidRequest("unknown preset: GET /api/v1/presets lists them")

// PresetByID finds a preset.
func PresetByID(id string) (Preset, bool) {
	for _, p := range Presets {
		if p.ID == id {
			return p, true
		}
	}
	return Preset{}, false
}

// ModelPrompt is what the model is asked: the user's text, then the
// preset's words.
func ModelPrompt(prompt, preset string) string {
	p, ok := PresetByID(preset)
	if !ok {
		return prompt
	}
	return strings.TrimSpace(prompt) + ", " + p.Words
}
