package spendgate_test

import (
	"context"
	"errors"
	"log"
	"os"

	"github.com/spendgate/spendgate/client/spendgate"
	"github.com/spendgate/spendgate/recordapi"
)

// A text-to-speech call checked against the key's budgets first, then
// recorded through the outbox with the cost the vendor billed.
func Example() {
	c, err := spendgate.New(spendgate.Config{BaseURL: "http://127.0.0.1:8080", Key: os.Getenv("SPENDGATE_KEY"),
		OutboxDir: "/var/lib/myapp/spendgate-outbox"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	pf, err := c.Preflight(ctx, recordapi.PreflightRequest{Provider: "elevenlabs", Model: "eleven_multilingual_v2",
		MaxCostUSD: "0.30", Dimensions: map[string]string{"team": "voice"}})
	var refused *spendgate.APIError
	if errors.As(err, &refused) && refused.Detail.Code == recordapi.CodeBudgetExceeded {
		log.Printf("budget %q is full: skip the call", refused.Detail.Budget.Name)
		return
	}
	// ... call the vendor; it synthesised 1,800 characters for $0.216 ...
	if err := c.Enqueue(recordapi.UsageRecord{Provider: "elevenlabs", Model: "eleven_multilingual_v2",
		Usage: recordapi.Usage{Characters: 1800}, ReportedCostUSD: "0.216", ReservationID: pf.ReservationID,
		Dimensions: map[string]string{"team": "voice"}}); err != nil {
		log.Printf("spend not recorded: %v", err) // the call itself went fine
	}
}
