// Solves the sign-up proof-of-work off the page's thread: finds a decimal nonce such that
// SHA-256("challenge:nonce") starts with `difficulty` zero bits (API.md, POST /v1/auth/challenge).
"use strict";
function leadingZeroBits(bytes) {
  var bits = 0;
  for (var i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0) { bits += 8; continue; }
    var b = bytes[i];
    while ((b & 0x80) === 0) { bits++; b <<= 1; }
    return bits;
  }
  return bits;
}
self.onmessage = async function (message) {
  var challenge = message.data.challenge, difficulty = message.data.difficulty;
  var encoder = new TextEncoder(), expected = Math.pow(2, difficulty), batch = 512;
  for (var start = 0; ; start += batch) {
    var attempts = [];
    for (var n = start; n < start + batch; n++) {
      attempts.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + n)));
    }
    var digests = await Promise.all(attempts);
    for (var i = 0; i < digests.length; i++) {
      if (leadingZeroBits(new Uint8Array(digests[i])) >= difficulty) {
        self.postMessage({ nonce: String(start + i) });
        return;
      }
    }
    // Progress against the expected number of tries (it may run past it).
    self.postMessage({ progress: Math.min(0.95, (start + batch) / (2 * expected)) });
  }
};
