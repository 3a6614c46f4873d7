package classify

import "testing"

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ik_live_proj1234… is a data key", "ik_live_… is a data key"},
		{"permission denied [wrong_credential_type]: ik_live_proj1234… is a data key; the management plane requires an ik_sdk_ token",
			"permission denied [wrong_credential_type]: ik_live_… is a data key; the management plane requires an ik_sdk_ token"},
		{"set INFERENCEKEY_SDK_TOKEN=ik_sdk_a1B2c3", "set INFERENCEKEY_SDK_TOKEN=ik_sdk_…"},
		{"apiKey: 'ik_pub_live_…'", "apiKey: 'ik_pub_…'"},
		{"--api-key ik_live_secret", "--api-key ik_live_…"},
		{"see ik_live_ docs", "see ik_live_ docs"},
		{"prefix glued:xik_live_abc", "prefix glued:xik_live_…"}, // ik_ prefixes count anywhere
		{"sk-abc123", "sk-…"},
		{"key sk-proj-Ab_cD-9.x/y+z=~ is bad", "key sk-proj-… is bad"},
		{"key sk-ant-api03-Zz9.", "key sk-ant-…."},
		{"(sk-abc)", "(sk-…)"},
		{`"sk-abc"`, `"sk-…"`},
		{"task-force", "task-force"},
		{"risk-free ask-me mask-on desk-sk-abc", "risk-free ask-me mask-on desk-sk-…"},
		{"_sk-abc", "_sk-…"}, // after an underscore, as in an echoed id
		{"req_sk-proj-Ab12 api_key_AIzaSyB-9", "req_sk-proj-… api_key_AIza…"},
		{"flask-app", "flask-app"},
		{"starts with sk-, and", "starts with sk-, and"},
		{"Authorization: Bearer eyJhbGci.eyJzdWIi.SflKx", "Authorization: Bearer …"},
		{"authorization: bearer abc", "authorization: bearer …"},
		{"BEARER abc", "BEARER …"},
		{"Bearer YOUR_KEY", "Bearer …"},
		{"unbearer abc", "unbearer abc"},
		{"Bearer sk-abc", "Bearer …"},
		{"two: sk-a and ik_sdk_b", "two: sk-… and ik_sdk_…"},
		{"ümlaut sk-abc", "ümlaut sk-…"},
		{"sk-abc…def rest", "sk-… rest"},
		{"", ""},
		{"nothing here", "nothing here"},
		{"sk-", "sk-"},
		{"ik_live_…", "ik_live_…"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Redact(tc.want); got != tc.want {
			t.Errorf("Redact is not idempotent: Redact(%q) = %q", tc.want, got)
		}
	}
}

// TestRedactEncoded redacts secrets echoed percent-encoded, as in a URL, a
// form or a logged request line.
func TestRedactEncoded(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Bearer%20sk-proj-Ab12", "Bearer%20…"},
		{"bearer%2520sk-proj-Ab12 (encoded twice)", "bearer%2520… (encoded twice)"},
		{"Bearer+abc.def&x=1", "Bearer+…&x=1"},
		{"Bearer 	 abc", "Bearer 	 …"},
		{"Authorization%3A%20Bearer%20eyJhbGci.eyJzdWIi", "Authorization%3A%20Bearer%20…"},
		{"authorization%3a%20Basic%20dXNlcjpwYXNz", "authorization%3a%20Basic%20…"},
		{"Authorization%3A%20abc123", "Authorization%3A%20…"},
		{"Authorization: abc123", "Authorization: …"},
		{"Authorization: Token abc123", "Authorization: Token …"},
		{"authorization=sk-abc&next=1", "authorization=…&next=1"},
		{"Authorization: Bearer", "Authorization: …"},
		{"the authorization failed", "the authorization failed"},
		{"GET /v1?key%3Dsk-proj-abc HTTP/1.1", "GET /v1?key%3Dsk-proj-… HTTP/1.1"},
		{"q=token%253Dsk-abc", "q=token%253Dsk-…"},
		{"https://x.test/v1/models?key=AIzaSyA-b_c1 failed", "https://x.test/v1/models?key=AIza… failed"},
		{"https://x.test/keys/sk-proj-abc/usage", "https://x.test/keys/sk-proj-…"},
		{"sk-proj-abc%2Bdef%2Fghi%3D rest", "sk-proj-… rest"},
		{"sk-abc%20rest", "sk-…%20rest"},
		{"sk-abc%2520rest", "sk-…%2520rest"},
		{"%22sk-abc%22", "%22sk-…%22"},
		{"x%5Fsk-abc", "x%5Fsk-…"},   // %5F is "_"
		{"x%41sk-abc", "x%41sk-abc"}, // %41 is "A": inside a word
		{"task%2Dforce", "task%2Dforce"},
		{"ik_live_abc%2Fdef", "ik_live_…"},
		{"gsk_abc123", "gsk_…"},
		{"100%", "100%"},
		{"sk-abc%", "sk-…%"},
		{"sk-abc%2", "sk-…%2"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Redact(tc.want); got != tc.want {
			t.Errorf("Redact is not idempotent: Redact(%q) = %q", tc.want, got)
		}
	}
}

func TestRedactNoAlloc(t *testing.T) {
	s := "permission denied [scope_insufficient]: this credential cannot perform the requested operation (task-force, an ik_sdk_ token)"
	if n := testing.AllocsPerRun(100, func() {
		if Redact(s) != s {
			t.Fatal("redacted a clean string")
		}
	}); n != 0 {
		t.Errorf("Redact of a clean string allocates %v times, want 0", n)
	}
}
