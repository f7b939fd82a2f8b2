package observability

import budgetservice "github.com/spendgate/spendgate/budget/service"

// Reservation results (spendgate_budget_reservations_total's result label).
const (
	ReservationGranted   = budgetservice.ReservationGranted
	ReservationRefused   = budgetservice.ReservationRefused
	ReservationUnchecked = budgetservice.ReservationUnchecked
	ReservationError     = budgetservice.ReservationError
)

// Reserved implements budget/service.Observer.
func (m *Metrics) Reserved(result string) {
	switch result {
	case ReservationGranted, ReservationRefused, ReservationUnchecked:
	default:
		result = ReservationError
	}
	m.reservations.WithLabelValues(result).Inc()
}

// ReservationsExpired implements budget/service.Observer.
func (m *Metrics) ReservationsExpired(n int) { m.reservationsExpired.Add(float64(n)) }

// AlertDelivered implements budget/alerts.Observer.
func (m *Metrics) AlertDelivered(channel string, err error) {
	if channel != "nats" && channel != "webhook" {
		channel = "other"
	}
	result := "delivered"
	if err != nil {
		result = "failed"
	}
	m.alertDeliveries.WithLabelValues(channel, result).Inc()
}
