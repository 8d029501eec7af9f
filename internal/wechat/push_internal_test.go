package wechat

import "testing"

// TestSealKnownAnswer: the reply example of WeChat's message push doc
// (Token "AAAAA", EncodingAESKey 43 "A"s, appid wxba5fad812f8e6fb9,
// random "707722b803182950", message {"demo_resp":"good luck"}) seals to
// the doc's Encrypt, signed by the doc's MsgSignature.
func TestSealKnownAnswer(t *testing.T) {
	p, err := NewPush(PushConfig{Token: "AAAAA", EncodingAESKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", AppID: "wxba5fad812f8e6fb9"})
	if err != nil {
		t.Fatal(err)
	}
	var random [16]byte
	copy(random[:], "707722b803182950")
	const want = "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="
	got := p.seal(random, []byte(`{"demo_resp":"good luck"}`))
	if got != want {
		t.Fatalf("seal = %s\nwant   %s", got, want)
	}
	if sig := Sign("AAAAA", "1713424427", "415670741", got); sig != "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1" {
		t.Errorf("msg_signature of the reply = %s", sig)
	}
	msg, appID, err := p.open(got)
	if err != nil || string(msg) != `{"demo_resp":"good luck"}` || appID != "wxba5fad812f8e6fb9" {
		t.Errorf("open(seal) = %q, %q, %v", msg, appID, err)
	}
}
