package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Escalation is an escalation policy: while an incident of a receiver that
// names it fires unacknowledged, each step pages more receivers, after
// its delay from when the incident started firing unacknowledged.
type Escalation struct {
	Name  string            `yaml:"name"`
	Steps []*EscalationStep `yaml:"steps"`
	// Repeat runs the steps this many more times once the last was taken
	// (0: once); each round starts the last step's after after the
	// previous round started.
	Repeat int `yaml:"repeat"`
}

// EscalationStep pages Notify, After the incident started firing
// unacknowledged (the receiver's own card is the page at 0).
type EscalationStep struct {
	After  Duration `yaml:"after"`
	Notify []string `yaml:"notify"`
}

// MaxEscalationRepeat bounds repeat: a chain pages at most this many
// more rounds.
const MaxEscalationRepeat = 100

// EscalationByName returns the policy called name, or nil.
func (c *Config) EscalationByName(name string) *Escalation {
	for _, e := range c.Escalations {
		if e != nil && e.Name == name {
			return e
		}
	}
	return nil
}

// Cycle is how long one round of the steps lasts: the last step's after.
func (e *Escalation) Cycle() time.Duration {
	if len(e.Steps) == 0 {
		return 0
	}
	return e.Steps[len(e.Steps)-1].After.D()
}

// checkEscalations checks the policies and the receivers that name them.
func (c *Config) checkEscalations() Problems {
	var ps Problems
	names := map[string]bool{}
	for i, e := range c.Escalations {
		p := fmt.Sprintf("escalations[%d]", i)
		if e == nil {
			ps.add(p, "is empty")
			continue
		}
		switch {
		case e.Name == "":
			ps.add(p+".name", "is required")
		case names[e.Name]:
			ps.add(p+".name", "escalation %q is defined twice", e.Name)
		}
		names[e.Name] = true
		if e.Repeat < 0 || e.Repeat > MaxEscalationRepeat {
			ps.add(p+".repeat", "must be between 0 and %d, not %d", MaxEscalationRepeat, e.Repeat)
		}
		if len(e.Steps) == 0 {
			ps.add(p+".steps", "is empty: list at least one step")
		}
		var prev time.Duration
		for j, s := range e.Steps {
			sp := fmt.Sprintf("%s.steps[%d]", p, j)
			if s == nil {
				ps.add(sp, "is empty")
				continue
			}
			switch {
			case s.After <= 0:
				ps.add(sp+".after", "must be positive: the receiver's own card is the page at 0")
			case j > 0 && s.After.D() <= prev:
				ps.add(sp+".after", "steps must be in increasing order of after: %s is not after the previous step's %s",
					s.After, Duration(prev))
			}
			if s.After > 0 {
				prev = s.After.D()
			}
			if len(s.Notify) == 0 {
				ps.add(sp+".notify", "is empty: list the receivers this step pages")
			}
			for k, r := range s.Notify {
				if c.ReceiverByName(r) == nil {
					ps.addDep("receivers", fmt.Sprintf("%s.notify[%d]", sp, k), "receiver %q is not defined in receivers", r)
				}
			}
		}
	}
	for i, r := range c.Receivers {
		if r == nil || r.Escalation == "" {
			continue
		}
		if !names[r.Escalation] {
			ps.add(fmt.Sprintf("receivers[%d].escalation", i), "escalation %q is not defined in escalations", r.Escalation)
		}
	}
	return ps
}

func (c *Config) checkAckTimers() Problems {
	var ps Problems
	a := c.Ack
	if (a.RemindAfter > 0 || a.Timeout > 0) && !a.Enabled() {
		key := "ack.remind_after"
		if a.RemindAfter <= 0 {
			key = "ack.timeout"
		}
		ps.add(key, "needs ack.secret: without ack buttons nobody acknowledges")
	}
	if a.RemindAfter > 0 && a.Timeout > 0 && a.RemindAfter >= a.Timeout {
		ps.add("ack.remind_after", "must be shorter than ack.timeout (%s), or the ack is withdrawn before the reminder", a.Timeout)
	}
	return ps
}

func (c *Config) checkMentions() Problems {
	var ps Problems
	for name, id := range c.Mentions.Users {
		if name == "" || id == "" || strings.TrimSpace(id) != id {
			ps.add("mentions.users."+name, "needs a name and an open_id without spaces, got %q", id)
		}
	}
	return ps
}

// escalationWarnings: policies nothing runs, steps that page the receiver
// whose incident escalates, escalation without ack buttons.
func (c *Config) escalationWarnings() []string {
	var w []string
	used := map[string]bool{}
	for i, r := range c.Receivers {
		if r == nil || r.Escalation == "" {
			continue
		}
		used[r.Escalation] = true
		p := c.EscalationByName(r.Escalation)
		if p == nil {
			continue
		}
		for j, s := range p.Steps {
			if s != nil && slices.Contains(s.Notify, r.Name) {
				w = append(w, fmt.Sprintf("receivers[%d] (%s): step %d of escalation %q pages the receiver itself again", i, r.Name, j+1, p.Name))
			}
		}
		if !c.Ack.Enabled() {
			w = append(w, fmt.Sprintf("receivers[%d] (%s) escalates with %q but ack.secret is empty: nobody can ack, so every step pages", i, r.Name, p.Name))
		}
	}
	for i, e := range c.Escalations {
		if e != nil && e.Name != "" && !used[e.Name] {
			w = append(w, fmt.Sprintf("escalations[%d] (%s): no receiver names it, so it never runs", i, e.Name))
		}
	}
	return w
}
