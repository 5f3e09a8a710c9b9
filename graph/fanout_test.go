package graph

import (
	"testing"

	"github.com/cairnhq/cairn/delivery"
)

// TestFanoutClass: viewers share a payload only when nothing that decides
// what they may read differs; two credentials of one user share it.
func TestFanoutClass(t *testing.T) {
	sam := delivery.Actor{UserID: 2, Username: "sam", Role: delivery.RoleViewer, TokenID: "a"}
	samOtherToken := sam
	samOtherToken.TokenID, samOtherToken.SessionID = "b", 7
	if fanoutClass(sam, []int{3}) != fanoutClass(samOtherToken, []int{3}) {
		t.Error("two credentials of the same viewer are different classes")
	}
	vic := delivery.Actor{UserID: 3, Username: "vic", Role: delivery.RoleViewer}
	scoped := sam
	scoped.Scopes = []string{"read"}
	via := sam
	via.Via = "bot"
	editor := sam
	editor.Role = delivery.RoleEditor
	for name, c := range map[string]string{
		"other hidden definitions": fanoutClass(sam, []int{3, 4}),
		"none hidden":              fanoutClass(sam, nil),
		"another user":             fanoutClass(vic, []int{3}),
		"token scopes":             fanoutClass(scoped, []int{3}),
		"via a bot":                fanoutClass(via, []int{3}),
		"another role":             fanoutClass(editor, []int{3}),
	} {
		if c == fanoutClass(sam, []int{3}) {
			t.Errorf("%s: same class", name)
		}
	}
}

// TestClassMemo: a stream's remembered class follows its hidden
// definitions as they change.
func TestClassMemo(t *testing.T) {
	sam := delivery.Actor{UserID: 2, Username: "sam", Role: delivery.RoleViewer}
	var m classMemo
	for i, h := range [][]int{nil, {}, {3}, {3}, {3, 4}, nil} {
		got := m.of(sam, h)
		if want := fanoutClass(sam, h); got != want {
			t.Errorf("step %d (%v): class %q, want %q", i, h, got, want)
		}
	}
	h := []int{5}
	m.of(sam, h)
	h[0] = 6
	if got, want := m.of(sam, h), fanoutClass(sam, []int{6}); got != want {
		t.Errorf("hidden changed in place: class %q, want %q", got, want)
	}
}

// TestFanoutCache: the first claim of a key owns it, later ones wait for
// its bytes; a failed owner drops the entry; the cache stays bounded.
func TestFanoutCache(t *testing.T) {
	c := newFanoutCache()
	k := fanoutKey{seq: 1, class: "a"}
	e, owner := c.claim(k)
	if !owner {
		t.Fatal("first claim does not own the entry")
	}
	e2, owner2 := c.claim(k)
	if owner2 || e2 != e {
		t.Fatal("second claim of the same key owns a new entry")
	}
	if _, o := c.claim(fanoutKey{seq: 1, class: "b"}); !o {
		t.Fatal("another class shares the entry")
	}
	c.fill(k, e, []byte(`{"x":1}`))
	<-e2.done
	if string(e2.data) != `{"x":1}` {
		t.Fatalf("waiter reads %q", e2.data)
	}
	k3 := fanoutKey{seq: 3}
	e3, _ := c.claim(k3)
	c.fill(k3, e3, nil)
	if _, o := c.claim(k3); !o {
		t.Fatal("a failed entry is kept")
	}
	for i := range 3 * fanoutCacheSize {
		c.claim(fanoutKey{seq: int64(100 + i)})
	}
	if len(c.entries) > fanoutCacheSize {
		t.Fatalf("%d entries, bound %d", len(c.entries), fanoutCacheSize)
	}
}
