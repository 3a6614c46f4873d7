package load

import (
	"testing"
	"time"
)

// Recovery is "the first of two consecutive good buckets"; Recovered is
// false "when no such buckets came before the window closed". A lone good
// bucket at the end of the window is not two.
func TestRecoveryLastBucketAlone(t *testing.T) {
	lat := make([]time.Duration, 400)
	for i := range lat {
		lat[i] = 10 * time.Millisecond
	}
	recs := records(4*time.Second, lat)
	for i := range recs {
		if at := recs[i].At; at >= time.Second && at < 3750*time.Millisecond {
			recs[i].Fail = "HTTP 503"
		}
	}
	s := Summarize(recs, Spec{Measure: 4 * time.Second, FaultStart: time.Second, FaultEnd: 2 * time.Second})
	if s.Recovered {
		t.Fatalf("recovered after %v on the window's last bucket alone", s.Recovery)
	}
}
