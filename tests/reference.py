"""Scalar references written from the documented formulas (Python ints, one value at a time),
independent of the vectorised code they check: Philox-4x32-10 and the loaders' epoch order."""
MASK32 = 0xFFFFFFFF


def philox_ref(counter, key):
    """Philox4x32-10 of a 4-word counter under a 2-word key."""
    c, (k0, k1) = list(counter), key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & MASK32, (k1 + 0xBB67AE85) & MASK32
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & MASK32, (p0 >> 32) ^ c[3] ^ k1, p0 & MASK32]
    return c


def split64(v):
    return v & MASK32, v >> 32


def mix32_ref(x):
    """lowbias32: x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16 (mod 2^32)."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    return x ^ (x >> 16)


def order_ref(seed, epoch, n):
    """The shuffled order of epoch `epoch`: 4 Feistel rounds on 2h bits (4^h >= n), keys =
    Philox((epoch lo, epoch hi, 0, 0), (seed lo, seed hi)), cycle-walked into [0, n)."""
    keys = philox_ref((*split64(epoch), 0, 0), split64(seed))
    h = 1
    while 4 ** h < n:
        h += 1
    mask = (1 << h) - 1

    def once(v):
        left, right = v >> h, v & mask
        for k in keys:
            left, right = right, left ^ (mix32_ref(right ^ k) & mask)
        return (left << h) | right

    out = []
    for i in range(n):
        v = once(i)
        while v >= n:
            v = once(v)
        out.append(v)
    return out
