package classify

import (
	"testing"
	"time"
)

// realRow is an error response as a provider sends it (bodies as the
// providers' documentation and their users' bug reports show them), the
// catalog a user of that provider would pick, and the Decision.
type realRow struct {
	provider, name string
	catalog        func() *Catalog
	status         int
	header         []string // key, value pairs; Content-Type is application/json
	body           string
	want           Decision // Status is set from status
}

// TestRealBodies classifies the error responses of real providers; it pins
// down the precedence table of the package documentation.
func TestRealBodies(t *testing.T) {
	const aws = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
	rows := []realRow{
		// OpenAI.
		{"openai", "429 insufficient_quota", OpenAI, 429, nil,
			`{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Code: "insufficient_quota", Type: "insufficient_quota",
				Message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."}},
		{"openai", "429 insufficient_quota as the type alone", Default, 429, nil,
			`{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":null}}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Type: "insufficient_quota", Message: "You exceeded your current quota, please check your plan and billing details."}},
		{"openai", "429 credit_balance_exhausted, type insufficient_quota", OpenAI, 429, nil,
			`{"error":{"message":"Your credit balance is exhausted.","type":"insufficient_quota","param":null,"code":"credit_balance_exhausted"}}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Code: "credit_balance_exhausted", Type: "insufficient_quota", Message: "Your credit balance is exhausted."}},
		{"openai", "429 rate_limit_exceeded", OpenAI, 429, []string{"Retry-After-Ms", "1000"},
			`{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29000, Requested 1500. Please try again in 1s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`,
			Decision{Verdict: Retryable, Evidence: ByBody, Code: "rate_limit_exceeded", Type: "tokens", RetryAfter: time.Second,
				Message: "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29000, Requested 1500. Please try again in 1s."}},
		{"openai", "503 engine overloaded", OpenAI, 503, nil,
			`{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null}}`,
			Decision{Verdict: Retryable, Evidence: ByBody, Type: "server_error", Message: "The engine is currently overloaded, please try again later"}},
		{"openai", "400 context_length_exceeded", OpenAI, 400, nil,
			`{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Code: "context_length_exceeded", Type: "invalid_request_error",
				Message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages."}},
		{"openai", "401 invalid_api_key, key redacted", OpenAI, 401, nil,
			`{"error":{"message":"Incorrect API key provided: sk-proj-abc123. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Code: "invalid_api_key", Type: "invalid_request_error",
				Message: "Incorrect API key provided: sk-proj-…. You can find your API key at https://platform.openai.com/account/api-keys."}},

		// Anthropic.
		{"anthropic", "529 overloaded_error", Anthropic, 529, []string{"Request-Id", "req_011CSHoEeqs5C35K2UUqR7Fy"},
			`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}`,
			Decision{Verdict: Retryable, Evidence: ByBody, Type: "overloaded_error", Message: "Overloaded", RequestID: "req_011CSHoEeqs5C35K2UUqR7Fy"}},
		{"anthropic", "429 rate_limit_error", Anthropic, 429, []string{"Retry-After", "17"},
			`{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization of 50,000 input tokens per minute."}}`,
			Decision{Verdict: Retryable, Evidence: ByBody, Type: "rate_limit_error", RetryAfter: 17 * time.Second,
				Message: "This request would exceed the rate limit for your organization of 50,000 input tokens per minute."}},
		{"anthropic", "413 request_too_large", Anthropic, 413, nil,
			`{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Type: "request_too_large", Message: "Request exceeds the maximum allowed number of bytes."}},
		{"anthropic", "400 credit balance too low", Anthropic, 400, nil,
			`{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Type: "invalid_request_error",
				Message: "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}},
		{"anthropic", "500 api_error", Anthropic, 500, nil,
			`{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`,
			Decision{Verdict: Retryable, Evidence: ByBody, Type: "api_error", Message: "Internal server error"}},

		// Azure OpenAI.
		{"azure", "429 token rate limit", OpenAI, 429, []string{"Retry-After", "60", "X-Ms-Region", "East US"},
			`{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-02-01 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 60 seconds."}}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "429", RetryAfter: time.Minute,
				Message: "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-02-01 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 60 seconds."}},
		{"azure", "404 DeploymentNotFound", OpenAI, 404, nil,
			`{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}}`,
			Decision{Verdict: Fatal, Evidence: ByStatus, Code: "DeploymentNotFound",
				Message: "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}},
		{"azure", "400 content_filter, numeric status member", OpenAI, 400, nil,
			`{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"}}}}}`,
			Decision{Verdict: Fatal, Evidence: ByStatus, Code: "content_filter",
				Message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."}},

		// Gemini.
		{"gemini", "429 with RetryInfo, no Retry-After", Default, 429, nil,
			`{"error":{"code":429,"message":"You exceeded your current quota. Please retry in 47.434392449s.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count","quotaId":"GenerateContentPaidTierInputTokensPerModelPerMinute","quotaDimensions":{"location":"global","model":"gemini-2.0-flash"},"quotaValue":"4000000"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"47s"}]}}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "429", Type: "RESOURCE_EXHAUSTED", RetryAfter: 47 * time.Second,
				Message: "You exceeded your current quota. Please retry in 47.434392449s."}},
		{"gemini", "429 array body, fractional retryDelay", Default, 429, nil,
			`[{"error":{"code":429,"message":"Resource exhausted. Please try again later.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"45.837906927s"}]}}]`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "429", Type: "RESOURCE_EXHAUSTED",
				RetryAfter: 45*time.Second + 837906927*time.Nanosecond, Message: "Resource exhausted. Please try again later."}},
		{"gemini", "429 array body, Vertex", Default, 429, nil,
			"[{\n  \"error\": {\n    \"code\": 429,\n    \"message\": \"Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.\",\n    \"status\": \"RESOURCE_EXHAUSTED\"\n  }\n}\n]",
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "429", Type: "RESOURCE_EXHAUSTED",
				Message: "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."}},
		{"gemini", "a Retry-After header beats the body's delay", Default, 429, []string{"Retry-After", "5"},
			`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "429", Type: "RESOURCE_EXHAUSTED", RetryAfter: 5 * time.Second}},
		{"gemini", "503 UNAVAILABLE", Default, 503, nil,
			`{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "503", Type: "UNAVAILABLE", Message: "The model is overloaded. Please try again later."}},
		{"gemini", "400 API key not valid", Default, 400, nil,
			`{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}`,
			Decision{Verdict: Fatal, Evidence: ByStatus, Code: "400", Type: "INVALID_ARGUMENT", Message: "API key not valid. Please pass a valid API key."}},

		// Mistral: a generic type does not overrule a 429.
		{"mistral", "429 service tier capacity, openai catalog", OpenAI, 429, nil,
			`{"object":"error","message":"Service tier capacity exceeded for this model.","type":"invalid_request_error","param":null,"code":null}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Type: "invalid_request_error", Message: "Service tier capacity exceeded for this model."}},
		{"mistral", "429 service tier capacity, default catalog", Default, 429, nil,
			`{"object":"error","message":"Service tier capacity exceeded for this model.","type":"invalid_request_error","code":null}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Type: "invalid_request_error", Message: "Service tier capacity exceeded for this model."}},
		{"mistral", "429 rate_limited", Default, 429, nil,
			`{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300","raw_status_code":429}`,
			Decision{Verdict: Retryable, Evidence: ByBody, Code: "1300", Type: "rate_limited", Message: "Rate limit exceeded"}},

		// Groq: no retry cures a 413, whatever the code says.
		{"groq", "413 request too large on TPM, openai catalog", OpenAI, 413, nil,
			"{\"error\":{\"message\":\"Request too large for model `llama3-70b-8192` in organization `org_x` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Requested 10338, please reduce your message size and try again.\",\"type\":\"tokens\",\"code\":\"rate_limit_exceeded\"}}",
			Decision{Verdict: Fatal, Evidence: ByStatus, Code: "rate_limit_exceeded", Type: "tokens",
				Message: "Request too large for model `llama3-70b-8192` in organization `org_x` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Requested 10338, please reduce your message size and try again."}},
		{"groq", "413 request too large on TPM, default catalog", Default, 413, nil,
			`{"error":{"message":"Request too large","type":"tokens","code":"rate_limit_exceeded"}}`,
			Decision{Verdict: Fatal, Evidence: ByStatus, Code: "rate_limit_exceeded", Type: "tokens", Message: "Request too large"}},
		{"groq", "429 rate limit reached", OpenAI, 429, []string{"Retry-After", "5"},
			"{\"error\":{\"message\":\"Rate limit reached for model `llama-3.1-8b-instant` in organization `org_x` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Used 5034, Requested 1443. Please try again in 4.77s.\",\"type\":\"tokens\",\"code\":\"rate_limit_exceeded\"}}",
			Decision{Verdict: Retryable, Evidence: ByBody, Code: "rate_limit_exceeded", Type: "tokens", RetryAfter: 5 * time.Second,
				Message: "Rate limit reached for model `llama-3.1-8b-instant` in organization `org_x` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Used 5034, Requested 1443. Please try again in 4.77s."}},

		// DeepSeek.
		{"deepseek", "402 insufficient balance", OpenAI, 402, nil,
			`{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Code: "invalid_request_error", Type: "unknown_error", Message: "Insufficient Balance"}},
		{"deepseek", "503 with the generic code of its 402 body", OpenAI, 503, nil,
			`{"error":{"message":"Server overloaded, please try again later","type":"unknown_error","param":null,"code":"invalid_request_error"}}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "invalid_request_error", Type: "unknown_error", Message: "Server overloaded, please try again later"}},

		// OpenRouter: error.code repeats the status.
		{"openrouter", "402 insufficient credits", Default, 402, nil,
			`{"error":{"code":402,"message":"Insufficient credits. Add more using https://openrouter.ai/credits"},"user_id":"user_2abc"}`,
			Decision{Verdict: Fatal, Evidence: ByStatus, Code: "402", Message: "Insufficient credits. Add more using https://openrouter.ai/credits"}},
		{"openrouter", "429 free-models-per-day", Default, 429, nil,
			`{"error":{"message":"Rate limit exceeded: free-models-per-day.","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"50","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1741305600000"}}},"user_id":"user_2abc"}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "429", Message: "Rate limit exceeded: free-models-per-day."}},
		{"openrouter", "502 provider returned error", Default, 502, nil,
			`{"error":{"message":"Provider returned error","code":502,"metadata":{"raw":"upstream connect error","provider_name":"Together"}},"user_id":"user_2abc"}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "502", Message: "Provider returned error"}},

		// Bedrock: the type is in the x-amzn-errortype header.
		{"bedrock", "429 ThrottlingException", Default, 429,
			[]string{"X-Amzn-Errortype", "ThrottlingException" + aws, "X-Amzn-Requestid", "ca47a5ce-e260-4824-aa0e-2e62669d5d6e"},
			`{"message":"Too many tokens, please wait before trying again."}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "ThrottlingException", Message: "Too many tokens, please wait before trying again.",
				RequestID: "ca47a5ce-e260-4824-aa0e-2e62669d5d6e"}},
		{"bedrock", "429 ModelNotReadyException", Default, 429, []string{"X-Amzn-Errortype", "ModelNotReadyException" + aws},
			`{"message":"Model is not ready for inference. Wait and try your request again."}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "ModelNotReadyException", Message: "Model is not ready for inference. Wait and try your request again."}},
		{"bedrock", "503 ServiceUnavailableException", Default, 503, []string{"X-Amzn-Errortype", "ServiceUnavailableException" + aws},
			`{"Message":"Bedrock is unable to process your request."}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "ServiceUnavailableException", Message: "Bedrock is unable to process your request."}},
		{"bedrock", "400 ValidationException", Default, 400, []string{"X-Amzn-Errortype", "ValidationException" + aws},
			`{"message":"The provided model identifier is invalid."}`,
			Decision{Verdict: Fatal, Evidence: ByStatus, Code: "ValidationException", Message: "The provided model identifier is invalid."}},
		{"bedrock", "403 AccessDeniedException", Default, 403, []string{"X-Amzn-Errortype", "AccessDeniedException" + aws},
			`{"message":"You don't have access to the model with the specified model ID."}`,
			Decision{Verdict: Fatal, Evidence: ByStatus, Code: "AccessDeniedException", Message: "You don't have access to the model with the specified model ID."}},
		{"bedrock", "a user catalog knows the header's type", func() *Catalog {
			return &Catalog{Name: "bedrock", Codes: map[string]Verdict{"ThrottlingException": Retryable, "ServiceQuotaExceededException": Fatal}}
		}, 429, []string{"X-Amzn-Errortype", "ServiceQuotaExceededException" + aws},
			`{"message":"Your request exceeds the service quota for your account."}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Code: "ServiceQuotaExceededException", Message: "Your request exceeds the service quota for your account."}},

		// vLLM.
		{"vllm", "400 context too long, old shape", Default, 400, nil,
			`{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens. Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}`,
			Decision{Verdict: Fatal, Evidence: ByStatus, Code: "400", Type: "BadRequestError",
				Message: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens. Please reduce the length of the messages or completion."}},
		{"vllm", "404 model does not exist", Default, 404, nil,
			"{\"error\":{\"message\":\"The model `gpt-4` does not exist.\",\"type\":\"NotFoundError\",\"param\":\"model\",\"code\":404}}",
			Decision{Verdict: Fatal, Evidence: ByStatus, Code: "404", Type: "NotFoundError", Message: "The model `gpt-4` does not exist."}},
		{"vllm", "500 internal server error", Default, 500, nil,
			`{"error":{"message":"EngineCore encountered an issue.","type":"InternalServerError","param":null,"code":500}}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "500", Type: "InternalServerError", Message: "EngineCore encountered an issue."}},

		// Ollama: its OpenAI-compatible 404 says api_error, a generic type.
		{"ollama", "404 model not found", Default, 404, nil,
			`{"error":"model 'llama3' not found, try pulling it first"}`,
			Decision{Verdict: Fatal, Evidence: ByStatus, Message: "model 'llama3' not found, try pulling it first"}},
		{"ollama", "404 model not found, OpenAI-compatible", Default, 404, nil,
			`{"error":{"message":"model \"llama3\" not found, try pulling it first","type":"api_error","param":null,"code":null}}`,
			Decision{Verdict: Fatal, Evidence: ByStatus, Type: "api_error", Message: `model "llama3" not found, try pulling it first`}},
		{"ollama", "503 server busy", Default, 503, nil,
			`{"error":"server busy, please try again.  maximum pending requests exceeded"}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Message: "server busy, please try again.  maximum pending requests exceeded"}},

		// TGI.
		{"tgi", "429 overloaded", Default, 429, nil,
			`{"error":"Model is overloaded","error_type":"overloaded"}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Type: "overloaded", Message: "Model is overloaded"}},
		{"tgi", "422 validation", Default, 422, nil,
			"{\"error\":\"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 200 `max_new_tokens`\",\"error_type\":\"validation\"}",
			Decision{Verdict: Fatal, Evidence: ByStatus, Type: "validation",
				Message: "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 200 `max_new_tokens`"}},
	}
	for _, r := range rows {
		t.Run(r.provider+"/"+r.name, func(t *testing.T) {
			c := r.catalog()
			resp, u := response(r.status, hdr(r.header...), r.body)
			want := r.want
			want.Status = r.status
			if got := c.Classify(resp, nil); got != want {
				t.Errorf("%s.Classify(%d %s)\n got %+v\nwant %+v", c.Name, r.status, r.body, got, want)
			}
			checkBody(t, resp, u, r.body)
		})
	}
}

// TestPrecedence pins down each line of the package documentation's
// precedence table with a catalog of one specific and one generic code.
func TestPrecedence(t *testing.T) {
	c := &Catalog{Name: "p", Codes: map[string]Verdict{
		"quota": Fatal, "busy": Retryable, "invalid_request_error": Fatal, "server_error": Retryable,
	}}
	for _, tc := range []struct {
		name   string
		status int
		header []string
		body   string
		want   Verdict
		by     Evidence
	}{
		{"x-should-retry beats everything", 413, []string{"X-Should-Retry", "true"}, `{"error":{"code":"quota"}}`, Retryable, ByHeader},
		{"a 413 is fatal whatever the code", 413, nil, `{"error":{"code":"busy"}}`, Fatal, ByStatus},
		{"a code may agree with a 413", 413, nil, `{"error":{"code":"quota"}}`, Fatal, ByBody},
		{"a 414 too", 414, nil, `{"error":{"code":"busy"}}`, Fatal, ByStatus},
		{"a 431 too", 431, nil, `{"error":{"type":"server_error"}}`, Fatal, ByStatus},
		{"a specific code overrules a 429", 429, nil, `{"error":{"code":"quota"}}`, Fatal, ByBody},
		{"a specific code overrules a 400", 400, nil, `{"error":{"code":"busy"}}`, Retryable, ByBody},
		{"a generic type does not overrule a 429", 429, nil, `{"error":{"type":"invalid_request_error"}}`, Retryable, ByStatus},
		{"nor a 503", 503, nil, `{"error":{"type":"invalid_request_error"}}`, Retryable, ByStatus},
		{"nor a 404", 404, nil, `{"error":{"type":"server_error"}}`, Fatal, ByStatus},
		{"a generic type agreeing with the status decides", 400, nil, `{"error":{"type":"invalid_request_error"}}`, Fatal, ByBody},
		{"a generic type decides a 409", 409, nil, `{"error":{"type":"server_error"}}`, Retryable, ByBody},
		{"a generic code is generic too", 429, nil, `{"error":{"code":"invalid_request_error"}}`, Retryable, ByStatus},
		{"after a generic key, a specific one still decides", 429, nil, `{"error":{"code":"invalid_request_error","type":"quota"}}`, Fatal, ByBody},
		{"unknown codes leave the status", 429, nil, `{"error":{"code":"new","type":"newer"}}`, Retryable, ByStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := response(tc.status, hdr(tc.header...), tc.body)
			if d := c.Classify(resp, nil); d.Verdict != tc.want || d.Evidence != tc.by {
				t.Errorf("Classify(%d %s) = %v by %v, want %v by %v", tc.status, tc.body, d.Verdict, d.Evidence, tc.want, tc.by)
			}
		})
	}
}
