package main

import (
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/rebound-http/rebound/examples/internal/sdktest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpenAIGo(t *testing.T) {
	sdktest.Run(t, sdktest.SDK[openai.Client]{
		SDK:              sdk,
		APIKey:           "sk-test",
		RetryCountHeader: "X-Stainless-Retry-Count",
		// openai-go checks the context first once the transport returns.
		CancelPassesReboundError: false,
	})
}
