package board

import (
	"bytes"
	"slices"
)

// codeSet holds the tracking codes of a whole board to find a code that appears twice (the verifier and
// the audit's recount), in as little memory as that allows: 12 bytes of each code's SHA-256 (codeKey), in
// 256 lists by the first byte, so that only codes in the same list can be equal and a list grows
// without copying the others. At 70 million entries that is 770 MB, where a slice of 16-byte keys made
// for the checkpoint's size was 1.1 GB, and a map of them (the audit's) about 2.8 GB by estimate.
//
// 96 bits: two different codes among 10^9 entries share a key with a probability of about 6·10^-12
// (n²/2^97), so a code reported twice is a code on the board twice; the same code always has the same key,
// so none is missed. Memory follows the entries added, never a size someone claims: a checkpoint is signed
// by the operator the verifier does not trust, and a claimed size of 2^40 must not be able to exhaust it.
type codeSet struct {
	lists [256][][codeSetKey - 1]byte
}

// codeSetKey is the bytes of a code's hash the set compares.
const codeSetKey = 12

// add puts the code into the set, also when it is there already.
func (s *codeSet) add(code string) {
	k := codeKey(code)
	var rest [codeSetKey - 1]byte
	copy(rest[:], k[1:codeSetKey])
	s.lists[k[0]] = append(s.lists[k[0]], rest)
}

// duplicates is the number of codes added that had been added before. It sorts the lists.
func (s *codeSet) duplicates() uint64 {
	var dup uint64
	for i := range s.lists {
		l := s.lists[i]
		slices.SortFunc(l, func(a, b [codeSetKey - 1]byte) int { return bytes.Compare(a[:], b[:]) })
		for j := 1; j < len(l); j++ {
			if l[j] == l[j-1] {
				dup++
			}
		}
	}
	return dup
}
