package classify

import (
	"strconv"
	"strings"
	"sync"
)

// Services returns new copies of the service catalogs: OpenAI, Anthropic,
// InferenceKey, InferKit, Infe, Gateway and Skytells, in that order.
func Services() []*Catalog {
	return []*Catalog{OpenAI(), Anthropic(), InferenceKey(), InferKit(), Infe(), Gateway(), Skytells()}
}

// Default returns a new catalog, named "default", for callers who do not say
// which service they call. It holds what the Services catalogs agree on:
// every code some catalog knows keeps its Verdict unless another catalog
// gives it a different one, and a status override is kept only if every
// catalog, counting StatusVerdict for those without one, agrees with it.
// For the codes and statuses left out, the status decides; the package
// documentation lists them.
func Default() *Catalog {
	c, _ := merge("default", Services())
	return c
}

// defaultCatalog is the Default catalog that ResponseError shares; it is
// never modified.
var defaultCatalog = sync.OnceValue(Default)

// merge returns the catalog of what cs agree on, and a description of each
// code and status they disagree on, in the form the package documentation
// lists them.
func merge(name string, cs []*Catalog) (*Catalog, []string) {
	out := &Catalog{Name: name, Codes: map[string]Verdict{}, Statuses: map[int]Verdict{}}
	var conflicts []string

	codes := map[string]bool{}
	for _, c := range cs {
		for k := range c.Codes {
			codes[k] = true
		}
	}
	for _, code := range sortedKeys(codes) {
		by := map[Verdict][]string{}
		for _, c := range cs {
			if v, ok := c.Codes[code]; ok {
				by[v] = append(by[v], c.Name)
			}
		}
		if v, ok := only(by); ok {
			out.Codes[code] = v
		} else {
			conflicts = append(conflicts, "code "+code+": "+describe(by))
		}
	}

	statuses := map[int]bool{}
	for _, c := range cs {
		for s := range c.Statuses {
			statuses[s] = true
		}
	}
	for _, status := range sortedKeys(statuses) {
		by := map[Verdict][]string{}
		for _, c := range cs {
			v := c.statusVerdict(status)
			by[v] = append(by[v], c.Name)
		}
		if v, ok := only(by); !ok {
			conflicts = append(conflicts, "status "+strconv.Itoa(status)+": "+describe(by))
		} else if v != StatusVerdict(status) {
			out.Statuses[status] = v
		}
	}
	return out, conflicts
}

// only returns the single Verdict of by, if it has one.
func only(by map[Verdict][]string) (Verdict, bool) {
	for v := range by {
		return v, len(by) == 1
	}
	return 0, false
}

// describe says which catalogs gave which Verdict:
// "retryable for inferkit; fatal for gateway".
func describe(by map[Verdict][]string) string {
	var parts []string
	for _, v := range [...]Verdict{Success, Retryable, Fatal} {
		if names := by[v]; len(names) > 0 {
			parts = append(parts, v.String()+" for "+strings.Join(names, ", "))
		}
	}
	return strings.Join(parts, "; ")
}
