package classify

import "testing"

// TestSeedInferenceKey covers every row of seeds/000 (InferenceKey), whose
// server errors are {"error":"<message>","code":"<code>"}. Its "local" rows
// (ConfigurationError, ValidationError) are raised by the SDK before any
// request; they are sent here as a server would send them, as 400 bodies
// without a code, and must be Fatal by status.
func TestSeedInferenceKey(t *testing.T) {
	const rid = "req_0f1e2d"
	withID := hdr("X-Request-Id", rid)
	runRows(t, InferenceKey(), []row{
		{
			name:   "403 wrong_credential_type, data key redacted to its prefix",
			status: 403, header: withID,
			body: `{"error":"permission denied [wrong_credential_type]: ik_live_proj1234… is a data key; the management plane requires an ik_sdk_ token","code":"wrong_credential_type"}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "wrong_credential_type", RequestID: rid,
				Message: "permission denied [wrong_credential_type]: ik_live_… is a data key; the management plane requires an ik_sdk_ token"},
		},
		{
			name:   "403 wrong_credential_type, control token at the data plane",
			status: 403,
			body:   `{"error":"permission denied [wrong_credential_type]: ik_sdk_AbC123xyz is a control token; an endpoint requires an ik_live_ key","code":"wrong_credential_type"}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "wrong_credential_type",
				Message: "permission denied [wrong_credential_type]: ik_sdk_… is a control token; an endpoint requires an ik_live_ key"},
		},
		{
			name:   "403 project_scope_mismatch",
			status: 403, header: withID,
			body: `{"error":"permission denied [project_scope_mismatch]: token is not scoped to project \"acme\"","code":"project_scope_mismatch"}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "project_scope_mismatch", RequestID: rid,
				Message: `permission denied [project_scope_mismatch]: token is not scoped to project "acme"`},
		},
		{
			name:   "403 scope_insufficient",
			status: 403,
			body:   `{"error":"permission denied [scope_insufficient]: this credential cannot perform the requested operation","code":"scope_insufficient"}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "scope_insufficient",
				Message: "permission denied [scope_insufficient]: this credential cannot perform the requested operation"},
		},
		{
			name:   "local ConfigurationError: no project",
			status: 400,
			body:   `{"error":"No project configured. Set INFERENCEKEY_PROJECT, pass project=, or set spec.project."}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus,
				Message: "No project configured. Set INFERENCEKEY_PROJECT, pass project=, or set spec.project."},
		},
		{
			name:   "local ConfigurationError: no data key (a bare prefix is no secret)",
			status: 400,
			body:   `{"error":"No ik_live_ key for workload \"support-bot\". Pass api_key= or set INFERENCEKEY_API_KEY."}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus,
				Message: `No ik_live_ key for workload "support-bot". Pass api_key= or set INFERENCEKEY_API_KEY.`},
		},
		{
			name:   "local ValidationError",
			status: 400,
			body:   `{"error":"validation error: name must not be empty"}`,
			want:   Decision{Verdict: Fatal, Evidence: ByStatus, Message: "validation error: name must not be empty"},
		},
		{
			name:   "local ConfigurationError: secret in a spec",
			status: 400,
			body:   `{"error":"configuration error: secrets must never go in specs"}`,
			want:   Decision{Verdict: Fatal, Evidence: ByStatus, Message: "configuration error: secrets must never go in specs"},
		},
		{
			name:   "secret in a spec field, echoed",
			status: 400,
			body:   `{"error":"configuration error: field command holds vllm serve ... --api-key ik_live_secret"}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus,
				Message: "configuration error: field command holds vllm serve ... --api-key ik_live_…"},
		},
		{
			name:   "401 authentication failed",
			status: 401, header: withID,
			body: `{"error":"authentication failed: invalid or expired credentials"}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, RequestID: rid,
				Message: "authentication failed: invalid or expired credentials"},
		},
		{
			name:   "404 not found",
			status: 404,
			body:   `{"error":"not found: workload \"support-bot\" not found in project \"acme\""}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus,
				Message: `not found: workload "support-bot" not found in project "acme"`},
		},
	})
}
