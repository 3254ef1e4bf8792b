package balancer

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
)

// Ring picks the process that owns a key by rendezvous (highest random weight) hashing:
// every member scores the key and the highest score wins. Adding a member moves to it
// exactly the keys it now wins (about 1/N of them) and nothing else; removing one moves
// only the keys it owned. A Ring is immutable: changes make a new one, so readers need no
// lock.
//
// Rendezvous hashing over at most 99 members costs 99 cheap mixes per pick, cheaper than
// keeping a ring of virtual nodes balanced, and gives the same 1/N movement that nginx's
// "hash ... consistent" gives (see RATIONALE.md).
type Ring struct {
	members []int  // process numbers, sorted, unique
	header  string // the members as RingHeader carries them: "1,2,3"
}

// NewRing returns a ring of the given process numbers (duplicates ignored).
func NewRing(members ...int) *Ring {
	m := slices.Clone(members)
	slices.Sort(m)
	m = slices.Compact(m)
	parts := make([]string, len(m))
	for i, n := range m {
		parts[i] = strconv.Itoa(n)
	}
	return &Ring{members: m, header: strings.Join(parts, ",")}
}

// RingHeader carries the ring's members ("1,2,3") on every request the balancer passes
// to a process, so that a process minting a guest connection can pick an id that hashes
// back to itself (OwnedGuestID): a guest's first visit then lands where all its later
// requests will go. The balancer overwrites whatever a client sent.
const RingHeader = "X-Gnr-Ring"

// Header is the ring as RingHeader carries it.
func (r *Ring) Header() string { return r.header }

// ParseRingHeader reads a RingHeader value; nil when it is absent or malformed.
func ParseRingHeader(v string) *Ring {
	if v == "" || len(v) > 3*MaxProcesses {
		return nil
	}
	var members []int
	for part := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 || n > MaxProcesses {
			return nil
		}
		members = append(members, n)
	}
	return NewRing(members...)
}

// maxMintTries bounds OwnedGuestID's draws: with N processes each draw is owned by the
// minting one with probability 1/N, so 64 draws fail only for N in the dozens, and then
// rarely; the last draw is used anyway (the guest then moves once, as without the ring).
const maxMintTries = 64

// OwnedGuestID returns a fresh connection id from newID whose guest route key
// ("guest_" + id) the ring assigns to process self, when the ring has self.
func (r *Ring) OwnedGuestID(self int, newID func() string) string {
	id := newID()
	if !r.Has(self) {
		return id
	}
	for range maxMintTries - 1 {
		if owner, _ := r.Pick("guest_" + id); owner == self {
			return id
		}
		id = newID()
	}
	return id
}

// Members returns the process numbers in the ring, sorted.
func (r *Ring) Members() []int { return slices.Clone(r.members) }

// Len is the number of members.
func (r *Ring) Len() int { return len(r.members) }

// Has reports whether process n is a member.
func (r *Ring) Has(n int) bool {
	_, found := slices.BinarySearch(r.members, n)
	return found
}

// With returns a ring that also holds n.
func (r *Ring) With(n int) *Ring { return NewRing(append(r.Members(), n)...) }

// Without returns a ring without n.
func (r *Ring) Without(n int) *Ring {
	return NewRing(slices.DeleteFunc(r.Members(), func(m int) bool { return m == n })...)
}

// Pick returns the member that owns key; ok is false for an empty ring.
func (r *Ring) Pick(key string) (member int, ok bool) {
	if len(r.members) == 0 {
		return 0, false
	}
	hk := hashKey(key)
	var best uint64
	for i, m := range r.members {
		// Ties (astronomically rare) go to the lower number, so the result never
		// depends on anything but the key and the members.
		if s := score(hk, m); i == 0 || s > best {
			best, member = s, m
		}
	}
	return member, true
}

func hashKey(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// score is the weight of member for a key hash: both are mixed through a 64-bit
// finalizer so that scores of different members for one key are independent.
func score(keyHash uint64, member int) uint64 {
	return mix64(keyHash ^ mix64(uint64(member)*0x9e3779b97f4a7c15))
}

// mix64 is the splitmix64 finalizer: every input bit affects every output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
