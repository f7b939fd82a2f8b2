package meter

import "testing"

// TestRecordOnlyProvidersAreNeverRouted: a tenant may name a record-only
// vendor, but no gateway call can be routed to or attributed to one.
func TestRecordOnlyProvidersAreNeverRouted(t *testing.T) {
	for _, id := range RecordOnlyProviders() {
		if !KnownProvider(id) {
			t.Errorf("%s is not a known provider", id)
		}
		if _, ok := ProviderByID(id); ok {
			t.Errorf("%s is routed", id)
		}
	}
	for _, host := range []string{"texttospeech.googleapis.com", "speech.googleapis.com", "api.elevenlabs.io", "api.deepgram.com"} {
		if p, ok := ProviderByHost(host); ok {
			t.Errorf("%s routes to %s", host, p.ID)
		}
	}
	if KnownProvider("speechmatics") || KnownProvider("") {
		t.Error("an unknown name is known")
	}
	if got, want := len(KnownProviderIDs()), len(Providers())+len(RecordOnlyProviders()); got != want {
		t.Errorf("%d known ids, want %d", got, want)
	}
}
