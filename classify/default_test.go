package classify

import (
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestDefaultConflictsDocumented computes the codes and statuses the service
// catalogs disagree on and wants doc.go to list exactly them.
func TestDefaultConflictsDocumented(t *testing.T) {
	_, computed := merge("default", Services())
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		switch {
		case line == "// # Default conflicts":
			in = true
		case in && strings.HasPrefix(line, "// # "):
			in = false
		case in && strings.HasPrefix(line, "//   - "):
			documented = append(documented, strings.TrimPrefix(line, "//   - "))
		}
	}
	if !slices.Equal(documented, computed) {
		t.Errorf("doc.go lists the conflicts\n\t%s\nbut the catalogs have\n\t%s",
			strings.Join(documented, "\n\t"), strings.Join(computed, "\n\t"))
	}
	if len(computed) == 0 {
		t.Error("no conflicts computed; the seeds say internal_error is one")
	}
}

// TestDefaultAgreement checks Default code by code against every service
// catalog: an agreed code keeps its meaning, a conflicting one is absent.
func TestDefaultAgreement(t *testing.T) {
	d := Default()
	if d.Name != "default" || d.Validate() != nil {
		t.Fatalf("Default() = %q, Validate: %v", d.Name, d.Validate())
	}
	for _, c := range Services() {
		for code, v := range c.Codes {
			conflict := false
			for _, other := range Services() {
				if w, ok := other.Codes[code]; ok && w != v {
					conflict = true
				}
			}
			got, ok := d.Codes[code]
			switch {
			case conflict && ok:
				t.Errorf("Default knows %s %q as %v, but the catalogs disagree", c.Name, code, got)
			case !conflict && (!ok || got != v):
				t.Errorf("Default: %q = %v, %v; want %v as %s says", code, got, ok, v, c.Name)
			}
		}
	}
	if len(d.Statuses) != 0 {
		t.Errorf("Default().Statuses = %v, want none (409 is a conflict)", d.Statuses)
	}
	// Codes a single catalog defines keep their meaning, even against the
	// status, as the design card says.
	runRows(t, d, []row{
		{name: "InferKit 503 billing_unconfigured", status: 503, body: `{"error":{"code":"billing_unconfigured"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "billing_unconfigured"}},
		{name: "gateway 503 model_unavailable", status: 503, body: `{"error":{"code":"model_unavailable"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "model_unavailable"}},
		{name: "model_overloaded retries", status: 503, body: `{"error":{"code":"model_overloaded"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "model_overloaded"}},
		{name: "quota_exceeded fails at once", status: 402, body: `{"error":{"code":"quota_exceeded"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "quota_exceeded"}},
		{name: "insufficient_quota on a 429 fails at once", status: 429, body: `{"error":{"code":"insufficient_quota"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "insufficient_quota"}},
		{name: "internal_error: the status decides", status: 500, body: `{"error":{"code":"internal_error"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus, Code: "internal_error"}},
		{name: "409: the status decides", status: 409, body: `{}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus}},
		{name: "design card 429", status: 429, want: Decision{Verdict: Retryable, Evidence: ByStatus}},
		{name: "design card 500", status: 500, want: Decision{Verdict: Retryable, Evidence: ByStatus}},
		{name: "design card 502", status: 502, want: Decision{Verdict: Retryable, Evidence: ByStatus}},
		{name: "design card 400", status: 400, want: Decision{Verdict: Fatal, Evidence: ByStatus}},
		{name: "design card 401", status: 401, want: Decision{Verdict: Fatal, Evidence: ByStatus}},
		{name: "design card 402", status: 402, want: Decision{Verdict: Fatal, Evidence: ByStatus}},
		{name: "design card 403", status: 403, want: Decision{Verdict: Fatal, Evidence: ByStatus}},
	})
}

// TestFreshCopies checks that constructors share no maps.
func TestFreshCopies(t *testing.T) {
	a, b := Services(), Services()
	names := []string{"openai", "anthropic", "inferencekey", "inferkit", "infe", "gateway", "skytells"}
	for i, c := range a {
		if c.Name != names[i] {
			t.Errorf("Services()[%d].Name = %q, want %q", i, c.Name, names[i])
		}
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		c.Codes["injected"] = Retryable
		if _, ok := b[i].Codes["injected"]; ok {
			t.Errorf("%s: two calls share a Codes map", c.Name)
		}
	}
	d := Default()
	d.Codes["injected"] = Retryable
	if _, ok := Default().Codes["injected"]; ok {
		t.Error("two Default calls share a Codes map")
	}
	if _, ok := defaultCatalog().Codes["injected"]; ok {
		t.Error("Default shares its Codes map with ResponseError's catalog")
	}
}

func TestValidate(t *testing.T) {
	var nilCatalog *Catalog
	for _, tc := range []struct {
		c    *Catalog
		want []string // the joined problems; none for valid
	}{
		{nilCatalog, nil},
		{&Catalog{}, nil},
		{&Catalog{MaxPeek: -1, MaxPeekTime: -1, Statuses: map[int]Verdict{400: Retryable, 409: Retryable, 599: Fatal}}, nil},
		{&Catalog{Name: "x", Codes: map[string]Verdict{"": Fatal}}, []string{`classify: invalid catalog "x": empty code in Codes`}},
		{&Catalog{Name: "x", Codes: map[string]Verdict{"a": 7}}, []string{`classify: invalid catalog "x": Codes["a"] is verdict(7), want Success, Retryable or Fatal`}},
		{&Catalog{Name: "x", Statuses: map[int]Verdict{200: Retryable}}, []string{`classify: invalid catalog "x": Statuses[200]: only statuses 400 to 599 can be overridden`}},
		{&Catalog{Name: "x", Statuses: map[int]Verdict{600: Retryable}}, []string{`classify: invalid catalog "x": Statuses[600]: only statuses 400 to 599 can be overridden`}},
		{&Catalog{Name: "x", Statuses: map[int]Verdict{503: 3}}, []string{`classify: invalid catalog "x": Statuses[503] is verdict(3), want Success, Retryable or Fatal`}},
		{&Catalog{Name: "x", Codes: map[string]Verdict{"": 9, "ok": Fatal}, Statuses: map[int]Verdict{99: Fatal, 1000: 4}}, []string{
			`classify: invalid catalog "x": empty code in Codes`,
			`classify: invalid catalog "x": Codes[""] is verdict(9), want Success, Retryable or Fatal`,
			`classify: invalid catalog "x": Statuses[99]: only statuses 400 to 599 can be overridden`,
			`classify: invalid catalog "x": Statuses[1000]: only statuses 400 to 599 can be overridden`,
			`classify: invalid catalog "x": Statuses[1000] is verdict(4), want Success, Retryable or Fatal`,
		}},
	} {
		err := tc.c.Validate()
		if tc.want == nil {
			if err != nil {
				t.Errorf("Validate() = %q, want nil", err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Validate() = nil, want %q", tc.want)
			continue
		}
		if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
			t.Errorf("Validate() =\n%s\nwant\n%s", got, want)
		}
		if !errors.Is(err, ErrInvalidCatalog) {
			t.Errorf("Validate() = %v, does not wrap ErrInvalidCatalog", err)
		}
	}
}

// TestConcurrentClassify shares one catalog between goroutines (run with
// -race).
func TestConcurrentClassify(t *testing.T) {
	c := Gateway()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				resp, _ := response(500+i%4, nil, `{"error":{"code":"model_overloaded","message":"busy"}}`)
				if d := c.Classify(resp, nil); d.Verdict != Retryable {
					t.Errorf("Classify = %v", d.Verdict)
				}
			}
		}()
	}
	wg.Wait()
}
