// Package bench holds the reproducible data generators shared by the
// benchmark harness (bench/cmd/bench) and the Go micro-benchmarks
// (hotpath_test.go).
//
// Everything here is deterministic: the same seed gives the same bytes on
// every machine and Go release (math/rand/v2's PCG and ChaCha8 are specified
// algorithms). The text is built from a fixed vocabulary drawn with a Zipf
// distribution, so it compresses like prose (gzip -9 about 3-4x), not like
// pgbench's blank filler (50x) nor like random bytes (1x).
package bench

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// commonWords are the most frequent ranks of the vocabulary.
var commonWords = []string{
	"the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was",
	"with", "be", "by", "on", "not", "he", "this", "are", "or", "his", "from",
	"at", "which", "but", "have", "an", "had", "they", "you", "were", "their",
	"one", "all", "we", "can", "her", "has", "there", "been", "if", "more",
	"when", "will", "would", "who", "so", "no", "new", "time", "about", "into",
	"only", "other", "some", "could", "these", "two", "may", "first", "then",
	"do", "any", "like", "my", "now", "over", "such", "our", "man", "me",
	"even", "most", "made", "after", "also", "did", "many", "before", "must",
	"through", "back", "years", "where", "much", "your", "way", "well", "down",
	"should", "because", "each", "just", "those", "people", "how", "too",
	"little", "state", "good", "very", "make", "world", "still", "own", "see",
	"men", "work", "long", "get", "here", "between", "both", "life", "being",
	"under", "never", "day", "same", "another", "know", "while", "last",
	"might", "us", "great", "old", "year", "off", "come", "since", "against",
	"go", "came", "right", "used", "take", "three", "project", "content",
	"image", "file", "page", "article", "user", "report", "data", "system",
	"design", "market", "city", "team", "product", "service", "event", "media",
}

var (
	vocabOnce sync.Once
	vocab     []string
)

// Vocabulary returns the fixed word list: commonWords, then pseudo-words
// made of syllables, shorter ones first (frequent words are short).
func Vocabulary() []string {
	vocabOnce.Do(func() {
		onsets := []string{"b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
			"br", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "str", "th", "tr", "ch", "sp", "qu", ""}
		vowels := []string{"a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "y"}
		codas := []string{"", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "rt", "x"}
		r := rand.New(rand.NewPCG(0xd1ec7005, 0xb4c6))
		seen := make(map[string]bool, 8000)
		for _, w := range commonWords {
			seen[w] = true
		}
		byLen := make([][]string, 16)
		for n := 0; n < 7000; {
			syl := 1 + r.IntN(3)
			if r.IntN(4) == 0 {
				syl++
			}
			w := ""
			for i := 0; i < syl; i++ {
				w += onsets[r.IntN(len(onsets))] + vowels[r.IntN(len(vowels))]
			}
			w += codas[r.IntN(len(codas))]
			if len(w) < 2 || len(w) >= len(byLen) || seen[w] {
				continue
			}
			seen[w] = true
			byLen[len(w)] = append(byLen[len(w)], w)
			n++
		}
		vocab = append([]string(nil), commonWords...)
		for _, ws := range byLen {
			vocab = append(vocab, ws...)
		}
	})
	return vocab
}

// userAgents and a few other small pools for realistic columns.
var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Directus SDK/11.0 (node 20.12.2)",
	"curl/8.5.0",
	"PostmanRuntime/7.37.3",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
}

// Text generates words, sentences, identifiers and numbers from one seed.
type Text struct {
	R       *rand.Rand
	cdf     []uint64
	words   []string
	phrases []string
}

// NewText returns a generator for seed (and stream, so that independent
// generators can share a seed).
func NewText(seed, stream uint64) *Text {
	r := rand.New(rand.NewPCG(seed, stream^0x9e3779b97f4a7c15))
	w := Vocabulary()
	return &Text{R: r, cdf: wordCDF(), words: w, phrases: Phrases()}
}

var (
	cdfOnce sync.Once
	cdf     []uint64
)

// wordCDF returns the cumulative Zipf distribution over the vocabulary's
// ranks, scaled to uint64, so that a word is one random number and a
// binary search.
func wordCDF() []uint64 {
	cdfOnce.Do(func() {
		w := Vocabulary()
		p := make([]float64, len(w))
		var sum float64
		for k := range p {
			p[k] = math.Pow(float64(k)+2, -zipfS)
			sum += p[k]
		}
		cdf = make([]uint64, len(w))
		var acc float64
		for k := range p {
			acc += p[k] / sum
			cdf[k] = uint64(math.Min(acc, 1) * (1 << 63))
		}
		cdf[len(cdf)-1] = 1 << 63
	})
	return cdf
}

// zipfS is the Zipf exponent of word frequencies; with the phrase pool it
// makes gzip -9 compress the prose about 3x, like real English text.
const zipfS = 1.4

// Word returns one word.
func (t *Text) Word() string {
	x := t.R.Uint64() >> 1
	lo, hi := 0, len(t.cdf)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.cdf[m] <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return t.words[lo]
}

var (
	phraseOnce sync.Once
	phrases    []string
)

// Phrases returns a fixed pool of multi-word phrases: real text repeats
// word sequences ("at the end of the"), which is what LZ77 finds.
func Phrases() []string {
	phraseOnce.Do(func() {
		t := &Text{R: rand.New(rand.NewPCG(0xf4a5e, 0x5eed)), words: Vocabulary(), cdf: wordCDF()}
		for i := 0; i < 2000; i++ {
			phrases = append(phrases, string(t.AppendWords(nil, 2+t.R.IntN(5))))
		}
	})
	return phrases
}

// AppendWords appends n space-separated words.
func (t *Text) AppendWords(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, t.Word()...)
	}
	return b
}

// AppendTitle appends n words, each capitalised.
func (t *Text) AppendTitle(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendCap(b, t.Word())
	}
	return b
}

func appendCap(b []byte, w string) []byte {
	if w == "" {
		return b
	}
	c := w[0]
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	b = append(b, c)
	return append(b, w[1:]...)
}

// AppendSentence appends one sentence of 6 to 24 words.
func (t *Text) AppendSentence(b []byte) []byte {
	n := 6 + t.R.IntN(19)
	for i := 0; i < n; i++ {
		w := t.Word()
		if t.R.IntN(phraseOdds) == 0 {
			w = t.phrases[t.R.IntN(len(t.phrases))]
		}
		switch {
		case i == 0:
			b = appendCap(b, w)
		default:
			b = append(b, ' ')
			if t.R.IntN(40) == 0 {
				b = appendCap(b, w)
			} else {
				b = append(b, w...)
			}
		}
		if i > 2 && i < n-2 && t.R.IntN(12) == 0 {
			b = append(b, ',')
		}
		if t.R.IntN(150) == 0 {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(t.R.IntN(2030)), 10)
		}
	}
	switch t.R.IntN(20) {
	case 0:
		return append(b, '?')
	case 1:
		return append(b, '!')
	}
	return append(b, '.')
}

// AppendParagraph appends n sentences separated by spaces.
func (t *Text) AppendParagraph(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = t.AppendSentence(b)
	}
	return b
}

// phraseOdds: one word in phraseOdds is replaced by a stock phrase.
const phraseOdds = 3

const hexDigits = "0123456789abcdef"

// AppendUUID appends a random version-4 UUID (incompressible, like real ids).
func (t *Text) AppendUUID(b []byte) []byte {
	return AppendUUIDFrom(b, t.R.Uint64(), t.R.Uint64())
}

// AppendUUIDFrom formats hi/lo as a version-4 UUID.
func AppendUUIDFrom(b []byte, hi, lo uint64) []byte {
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	var raw [16]byte
	for i := 0; i < 8; i++ {
		raw[i] = byte(hi >> (56 - 8*i))
		raw[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

// AppendHex appends n random hex digits.
func (t *Text) AppendHex(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, hexDigits[t.R.IntN(16)])
	}
	return b
}

const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// AppendB64 appends n random base64 characters.
func (t *Text) AppendB64(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, b64[t.R.IntN(64)])
	}
	return b
}

// Epoch is the reference time of the dataset: generated timestamps fall in
// the five years before it.
var Epoch = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// AppendTime appends a PostgreSQL timestamptz literal for unix seconds sec
// plus random milliseconds.
func (t *Text) AppendTime(b []byte, sec int64) []byte {
	tm := time.Unix(sec, int64(t.R.IntN(1000))*1e6).UTC()
	b = tm.AppendFormat(b, "2006-01-02 15:04:05.000")
	return append(b, "+00"...)
}

// RandomTime returns unix seconds in the five years before Epoch.
func (t *Text) RandomTime() int64 {
	return Epoch.Unix() - t.R.Int64N(5*365*86400)
}

// AppendFloat appends f with prec decimals.
func AppendFloat(b []byte, f float64, prec int) []byte {
	return strconv.AppendFloat(b, f, 'f', prec, 64)
}

// AppendInt appends i.
func AppendInt(b []byte, i int64) []byte { return strconv.AppendInt(b, i, 10) }

// AppendSlug appends the lower-case, hyphenated form of title.
func AppendSlug(b []byte, title []byte) []byte {
	dash := false
	for _, c := range title {
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
			dash = false
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b = append(b, c)
			dash = false
		default:
			if !dash {
				b = append(b, '-')
				dash = true
			}
		}
	}
	return b
}

// UserAgent returns a realistic user agent string.
func (t *Text) UserAgent() string { return userAgents[t.R.IntN(len(userAgents))] }

// Pick returns one of choices.
func (t *Text) Pick(choices ...string) string { return choices[t.R.IntN(len(choices))] }
