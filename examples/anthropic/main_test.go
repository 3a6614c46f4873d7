package main

import (
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/rebound-http/rebound/examples/internal/sdktest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAnthropic(t *testing.T) {
	sdktest.Run(t, sdktest.SDK[anthropic.Client]{
		SDK:              sdk,
		APIKey:           "sk-ant-test",
		RetryCountHeader: "X-Stainless-Retry-Count",
		// anthropic-sdk-go checks the context first once the transport
		// returns.
		CancelPassesReboundError: false,
	})
}
