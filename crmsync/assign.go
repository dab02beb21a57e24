package crmsync

// Assign is the assign stage of delivery: it turns each claimed job into a
// Delivery carrying what the policy decides about it (owner, e-mail,
// template). It runs just before the push, once per delivery, so a user
// mapping learnt since the activity was queued applies; batches carry one
// assignment per activity.
type Assign struct {
	// Assigner is the policy. Nil: the zero Assignment, the connector's
	// own defaults.
	Assigner Assigner
}

// Delivery is j's activity with its assignment.
func (s Assign) Delivery(j Job) Delivery {
	d := Delivery{Activity: j.Activity}
	if s.Assigner != nil {
		d.Assignment = s.Assigner.Assign(j.Activity)
	}
	return d
}

// Deliveries is Delivery for each job, in order.
func (s Assign) Deliveries(jobs []Job) []Delivery {
	ds := make([]Delivery, len(jobs))
	for i, j := range jobs {
		ds[i] = s.Delivery(j)
	}
	return ds
}
