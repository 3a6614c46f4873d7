package classify

// The service catalogs. Each constructor returns a new Catalog with maps of
// its own, which the caller may change before first use.

// OpenAI returns the catalog of OpenAI's API and the many APIs that copy its
// error shape {"error":{"message","type","param","code"}}. It retries 409
// Conflict, as OpenAI's SDKs do, and tells a 429 that means the quota is
// exhausted (insufficient_quota, Fatal) from a rate limit
// (rate_limit_exceeded, Retryable).
func OpenAI() *Catalog {
	return &Catalog{
		Name: "openai",
		Codes: map[string]Verdict{
			"invalid_request_error": Fatal,
			"invalid_api_key":       Fatal,
			"model_not_found":       Fatal,
			"insufficient_quota":    Fatal,
			"rate_limit_exceeded":   Retryable,
			"server_error":          Retryable,
			"engine_overloaded":     Retryable,
			"capacity_exceeded":     Retryable, // Groq's 498: its flex tier at capacity, to retry after a backoff
		},
		Statuses: map[int]Verdict{409: Retryable},
	}
}

// Anthropic returns the catalog of Anthropic's API, whose error bodies are
// {"type":"error","error":{"type","message"},"request_id"} and whose 529
// means overloaded. It retries 409 Conflict, as Anthropic's SDKs do.
func Anthropic() *Catalog {
	return &Catalog{
		Name: "anthropic",
		Codes: map[string]Verdict{
			"invalid_request_error": Fatal,     // 400
			"authentication_error":  Fatal,     // 401
			"billing_error":         Fatal,     // 402
			"permission_error":      Fatal,     // 403
			"not_found_error":       Fatal,     // 404
			"request_too_large":     Fatal,     // 413
			"rate_limit_error":      Retryable, // 429
			"api_error":             Retryable, // 500
			"timeout_error":         Retryable, // 504
			"overloaded_error":      Retryable, // 529
		},
		Statuses: map[int]Verdict{409: Retryable},
	}
}

// InferenceKey returns the catalog of InferenceKey (ik_sdk_ control tokens,
// ik_live_ data keys), whose errors are {"error":"message","code":"…"}.
// Its 403 codes all mean the credential cannot do the operation; its 401 and
// 404 carry no code and are Fatal by status.
func InferenceKey() *Catalog {
	return &Catalog{
		Name: "inferencekey",
		Codes: map[string]Verdict{
			"wrong_credential_type":  Fatal, // 403: control and data tokens swapped
			"project_scope_mismatch": Fatal, // 403: token of another project
			"scope_insufficient":     Fatal, // 403: token lacks the scope
		},
	}
}

// InferKit returns the catalog of InferKit, whose errors are
// {"error":{"code","message","request_id"}}. Its 503 *_unconfigured codes
// mean the service itself is misconfigured, which no retry cures, while 503
// provider_unavailable and 500 internal_error are worth a retry.
func InferKit() *Catalog {
	return &Catalog{
		Name: "inferkit",
		Codes: map[string]Verdict{
			"bad_request":                 Fatal,     // 400
			"invalid_api_key":             Fatal,     // 401
			"invalid_token":               Fatal,     // 401
			"invalid_credentials":         Fatal,     // 401
			"bot_challenge_required":      Fatal,     // 401: needs a Turnstile session first
			"upgrade_required":            Fatal,     // 402
			"quota_exceeded":              Fatal,     // 402
			"forbidden":                   Fatal,     // 403
			"email_not_verified":          Fatal,     // 403
			"key_revoked":                 Fatal,     // 403
			"key_suspended":               Fatal,     // 403
			"key_expired":                 Fatal,     // 403
			"origin_not_allowed":          Fatal,     // 403
			"ip_not_allowed":              Fatal,     // 403
			"direct_origin_blocked":       Fatal,     // 403
			"challenge_failed":            Fatal,     // 403: a new challenge, not the same request
			"not_found":                   Fatal,     // 404
			"email_in_use":                Fatal,     // 409
			"rate_limited":                Retryable, // 429
			"bot_protection_unconfigured": Fatal,     // 503
			"billing_unconfigured":        Fatal,     // 503
			"email_unconfigured":          Fatal,     // 503
			"provider_unavailable":        Retryable, // 503
			"internal_error":              Retryable, // 500
		},
	}
}

// Infe returns the catalog of infe.io, an OpenAI-compatible API whose
// documented retry strategy retries 429, 500 and 502 only.
func Infe() *Catalog {
	return &Catalog{
		Name: "infe",
		Codes: map[string]Verdict{
			"invalid_request_error": Fatal,     // 400
			"invalid_api_key":       Fatal,     // 401
			"payment_required":      Fatal,     // 402
			"forbidden":             Fatal,     // 403
			"model_not_found":       Fatal,     // 404
			"rate_limit_exceeded":   Retryable, // 429
			"api_error":             Retryable, // 500, 502
		},
	}
}

// Gateway returns the catalog of the inference gateway whose error table has
// a Retryable column. The gateway's own internal errors (internal_error,
// failed_request, unknown_workspace) and model_unavailable are not
// retryable; the model server's errors, including errors in a stream that
// opened with 200, are.
func Gateway() *Catalog {
	return &Catalog{
		Name: "gateway",
		Codes: map[string]Verdict{
			// Authentication.
			"missing_api_key": Fatal,
			"invalid_api_key": Fatal,
			"unauthorized":    Fatal,
			// Client errors.
			"rate_limit_exceeded":       Retryable, // after the quota resets
			"invalid_request":           Fatal,
			"invalid_argument":          Fatal,
			"not_found":                 Fatal,
			"unknown_model":             Fatal,
			"invalid_content_media":     Fatal,
			"unavailable_content_media": Fatal,
			"unsafe_content":            Fatal,
			"unknown_app":               Fatal,
			"invalid_app":               Fatal,
			"unsupported_interface":     Fatal,
			// Gateway internal errors.
			"unknown_workspace": Fatal,
			"failed_request":    Fatal,
			"internal_error":    Fatal,
			// Model server errors.
			"model_server_error": Retryable,
			"model_overloaded":   Retryable,
			"model_unavailable":  Fatal,
			"model_timeout":      Retryable,
			"stream_error":       Retryable,
			"stream_terminated":  Retryable,
		},
	}
}

// Skytells returns the catalog of Skytells, whose errors carry a
// SCREAMING_CASE errorId next to an OpenAI-style error object:
// {"errorId","message","requestId","error":{"type","code"}}. The errorId
// decides; the error object's code and type count only for ids the catalog
// does not know.
func Skytells() *Catalog {
	return &Catalog{
		Name: "skytells",
		Codes: map[string]Verdict{
			"UNAUTHORIZED":             Fatal,     // 401
			"FORBIDDEN":                Fatal,     // 403
			"MODEL_NOT_FOUND":          Fatal,     // 404
			"INVALID_INPUT":            Fatal,     // 422
			"INSUFFICIENT_CREDITS":     Fatal,     // 402
			"PAYMENT_REQUIRED":         Fatal,     // 402
			"CONTENT_POLICY_VIOLATION": Fatal,     // 451
			"RATE_LIMIT_EXCEEDED":      Retryable, // 429
			"INFERENCE_RATE_LIMITED":   Retryable, // 429
			"INFERENCE_ERROR":          Retryable, // 500
			"INTERNAL_ERROR":           Retryable, // 500
			// error.type and error.code values the reference names.
			"server_error":          Retryable,
			"invalid_request_error": Fatal,
			"model_not_found":       Fatal,
		},
	}
}
