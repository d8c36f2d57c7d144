package abi

import "testing"

func TestTriggerFor(t *testing.T) {
	r := Recipe{Triggers: []Trigger{{Prefix: "person:"}, {Prefix: "person:vip:"}, {Prefix: "car:"}}}
	for key, want := range map[string]int{
		"person:1": 0, "person:vip:1": 1, "person:vip:": 1, "car:9": 2, "cars": -1, "": -1, "person": -1,
	} {
		if got := r.TriggerFor(key); got != want {
			t.Errorf("TriggerFor(%q) = %d, want %d", key, got, want)
		}
	}
}
