package rebound

import (
	"github.com/rebound-http/rebound/classify"
)

// A Preset configures a Transport for one service: its error catalog and
// the defaults that suit it. Pass it to WithPreset.
type Preset string

// The services rebound knows. Each selects the matching classify catalog.
const (
	OpenAI       Preset = "openai"       // OpenAI and OpenAI-compatible APIs: 409 retried as OpenAI's SDKs do, insufficient_quota fatal
	Anthropic    Preset = "anthropic"    // Anthropic: 529 overloaded_error retried
	InferenceKey Preset = "inferencekey" // InferenceKey control and data planes
	InferKit     Preset = "inferkit"     // InferKit: 503 *_unconfigured fatal, provider_unavailable retried
	Infe         Preset = "infe"         // infe.io (OpenAI-compatible)
	Gateway      Preset = "gateway"      // the inference gateway with a Retryable column: internal_error fatal
	Skytells     Preset = "skytells"     // Skytells: SCREAMING_CASE error ids
)

// Presets lists every Preset.
func Presets() []Preset {
	return []Preset{OpenAI, Anthropic, InferenceKey, InferKit, Infe, Gateway, Skytells}
}

// catalog returns the preset's catalog, or nil for an unknown preset.
func (p Preset) catalog() *classify.Catalog {
	switch p {
	case OpenAI:
		return classify.OpenAI()
	case Anthropic:
		return classify.Anthropic()
	case InferenceKey:
		return classify.InferenceKey()
	case InferKit:
		return classify.InferKit()
	case Infe:
		return classify.Infe()
	case Gateway:
		return classify.Gateway()
	case Skytells:
		return classify.Skytells()
	}
	return nil
}

// WithPreset configures the Transport for the service p: it selects that
// service's catalog, so its codes keep their own meaning where services
// disagree (the gateway's 500 internal_error is fatal, InferKit's is
// retried). Options after it may override what it sets.
func WithPreset(p Preset) Option {
	return func(c *config) {
		cat := p.catalog()
		if cat == nil {
			c.fail("WithPreset(%q): unknown preset; want one of %v", string(p), Presets())
			return
		}
		c.classifier = cat
	}
}
