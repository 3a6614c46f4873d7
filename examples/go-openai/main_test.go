package main

import (
	"testing"

	"github.com/rebound-http/rebound/examples/internal/sdktest"
	"github.com/sashabaranov/go-openai"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGoOpenAI(t *testing.T) {
	sdktest.Run(t, sdktest.SDK[*openai.Client]{
		SDK:    sdk,
		APIKey: "sk-test",
		// go-openai never retries, and numbers no tries.
		RetryCountHeader: "",
		// go-openai returns the transport's error as http.Client.Do
		// wrapped it.
		CancelPassesReboundError: true,
	})
}
