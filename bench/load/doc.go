// Package load is the bench's open-loop load generator and its measurement.
//
// Schedule draws Poisson arrivals (and optional bursts) from a seeded
// generator; a Runner sends each call at its intended time whatever the state
// of earlier calls (open loop), and measures its latency from that intended
// time, so a slow client is charged for the calls it delays (no coordinated
// omission). Summarize turns the records of one run into HdrHistograms of
// latency, success counts, time buckets, a recovery time and a check of the
// generator itself: a run whose generator fell behind its schedule is marked
// invalid.
//
// A Runner is used by one run at a time; its progress counters may be read
// concurrently. The functions of the package are safe for concurrent use.
package load
