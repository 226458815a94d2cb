// A QR code encoder (ISO/IEC 18004: byte mode, error correction level M, versions 1–10), so a
// ticket's code is drawn in the page with no network and no library. window.BoxofficeQR.svg(text)
// returns an SVG element.
(function () {
  "use strict";
  // Per version at level M: error-correction codewords per block, and the blocks' data codewords.
  var BLOCKS = [null, [10, [16]], [16, [28]], [26, [44]], [18, [32, 32]], [24, [43, 43]], [16, [27, 27, 27, 27]],
    [18, [31, 31, 31, 31]], [22, [38, 38, 39, 39]], [22, [36, 36, 36, 37, 37]], [26, [43, 43, 43, 43, 44]]];
  var ALIGNMENT = [null, [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50]];
  var REMAINDER_BITS = [0, 0, 7, 7, 7, 7, 7, 0, 0, 0, 0];

  // GF(256) with the polynomial x^8 + x^4 + x^3 + x^2 + 1.
  var EXP = new Array(512), LOG = new Array(256);
  (function () { var x = 1; for (var i = 0; i < 255; i++) { EXP[i] = x; LOG[x] = i; x <<= 1; if (x & 0x100) x ^= 0x11d; } for (i = 255; i < 512; i++) EXP[i] = EXP[i - 255]; })();
  function multiply(a, b) { return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]]; }
  function generator(degree) {
    var poly = [1];
    for (var i = 0; i < degree; i++) {
      var next = new Array(poly.length + 1).fill(0);
      for (var j = 0; j < poly.length; j++) { next[j] ^= poly[j]; next[j + 1] ^= multiply(poly[j], EXP[i]); }
      poly = next;
    }
    return poly;
  }
  function remainder(data, degree) {
    var gen = generator(degree), result = data.concat(new Array(degree).fill(0));
    for (var i = 0; i < data.length; i++) {
      var factor = result[i];
      if (factor === 0) continue;
      for (var j = 0; j < gen.length; j++) result[i + j] ^= multiply(gen[j], factor);
    }
    return result.slice(data.length);
  }

  function codewords(bytes, version) {
    var spec = BLOCKS[version], capacity = spec[1].reduce(function (a, b) { return a + b; }, 0);
    var bits = [];
    function put(value, length) { for (var i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1); }
    put(4, 4);
    put(bytes.length, version < 10 ? 8 : 16);
    bytes.forEach(function (b) { put(b, 8); });
    put(0, Math.min(4, capacity * 8 - bits.length));
    while (bits.length % 8) bits.push(0);
    var data = [];
    for (var i = 0; i < bits.length; i += 8) data.push(parseInt(bits.slice(i, i + 8).join(""), 2));
    for (var pad = 0; data.length < capacity; pad++) data.push(pad % 2 ? 0x11 : 0xec);
    // Split into blocks, add each block's error correction, interleave.
    var blocks = [], offset = 0;
    spec[1].forEach(function (size) { var block = data.slice(offset, offset + size); offset += size; blocks.push({ data: block, ec: remainder(block, spec[0]) }); });
    var out = [], longest = Math.max.apply(null, spec[1]);
    for (i = 0; i < longest; i++) blocks.forEach(function (b) { if (i < b.data.length) out.push(b.data[i]); });
    for (i = 0; i < spec[0]; i++) blocks.forEach(function (b) { out.push(b.ec[i]); });
    return out;
  }

  function bch(value, poly, bits) {
    var shifted = value << (bits - 1);
    var degree = function (v) { var d = -1; while (v) { d++; v >>>= 1; } return d; };
    var polyDegree = degree(poly);
    while (degree(shifted) >= polyDegree) shifted ^= poly << (degree(shifted) - polyDegree);
    return shifted;
  }

  function build(bytes, version, mask) {
    var size = version * 4 + 17, modules = [], reserved = [];
    for (var r = 0; r < size; r++) { modules.push(new Array(size).fill(false)); reserved.push(new Array(size).fill(false)); }
    function set(row, col, dark) { modules[row][col] = dark; reserved[row][col] = true; }
    function finder(row, col) {
      for (var dr = -1; dr <= 7; dr++) for (var dc = -1; dc <= 7; dc++) {
        var rr = row + dr, cc = col + dc;
        if (rr < 0 || cc < 0 || rr >= size || cc >= size) continue;
        var ring = Math.max(Math.abs(dr - 3), Math.abs(dc - 3));
        set(rr, cc, ring !== 2 && ring !== 4);
      }
    }
    finder(0, 0); finder(0, size - 7); finder(size - 7, 0);
    for (var i = 8; i < size - 8; i++) { set(6, i, i % 2 === 0); set(i, 6, i % 2 === 0); }
    var centers = ALIGNMENT[version], last = centers.length - 1;
    centers.forEach(function (row, i) {
      centers.forEach(function (col, j) {
        if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;  // the finders' corners
        for (var dr = -2; dr <= 2; dr++) for (var dc = -2; dc <= 2; dc++) set(row + dr, col + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
      });
    });
    // Format information (level M = 00), twice, and the dark module.
    var format = ((0 << 3 | mask) << 10 | bch(0 << 3 | mask, 0x537, 11)) ^ 0x5412;
    function formatBit(k) { return ((format >>> k) & 1) === 1; }
    for (i = 0; i <= 5; i++) set(i, 8, formatBit(i));
    set(7, 8, formatBit(6)); set(8, 8, formatBit(7)); set(8, 7, formatBit(8));
    for (i = 9; i < 15; i++) set(8, 14 - i, formatBit(i));
    for (i = 0; i < 8; i++) set(8, size - 1 - i, formatBit(i));
    for (i = 8; i < 15; i++) set(size - 15 + i, 8, formatBit(i));
    set(size - 8, 8, true);
    if (version >= 7) {
      var info = version << 12 | bch(version, 0x1f25, 13);
      for (i = 0; i < 18; i++) {
        var on = ((info >>> i) & 1) === 1, a = size - 11 + (i % 3), b = Math.floor(i / 3);
        set(a, b, on); set(b, a, on);
      }
    }
    // Data, in the zigzag from the bottom right, masked.
    var data = codewords(bytes, version), bitIndex = 0, total = data.length * 8 + REMAINDER_BITS[version];
    var maskAt = [
      function (r, c) { return (r + c) % 2 === 0; }, function (r) { return r % 2 === 0; }, function (r, c) { return c % 3 === 0; },
      function (r, c) { return (r + c) % 3 === 0; }, function (r, c) { return (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0; },
      function (r, c) { return (r * c) % 2 + (r * c) % 3 === 0; }, function (r, c) { return ((r * c) % 2 + (r * c) % 3) % 2 === 0; },
      function (r, c) { return ((r + c) % 2 + (r * c) % 3) % 2 === 0; }][mask];
    for (var right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (var vertical = 0; vertical < size; vertical++) {
        for (var j = 0; j < 2; j++) {
          var col = right - j, upward = ((right + 1) & 2) === 0, row = upward ? size - 1 - vertical : vertical;
          if (reserved[row][col]) continue;
          var dark = false;
          if (bitIndex < total) { dark = bitIndex < data.length * 8 && ((data[bitIndex >>> 3] >>> (7 - (bitIndex & 7))) & 1) === 1; bitIndex++; }
          modules[row][col] = dark !== maskAt(row, col);
        }
      }
    }
    return modules;
  }

  // The mask with the lowest penalty (the standard's four rules).
  function penalty(m) {
    var size = m.length, score = 0, r, c, run, dark = 0;
    for (var pass = 0; pass < 2; pass++) {
      for (r = 0; r < size; r++) {
        run = 1;
        for (c = 1; c < size; c++) {
          var same = pass ? m[c][r] === m[c - 1][r] : m[r][c] === m[r][c - 1];
          if (same) { run++; if (run === 5) score += 3; else if (run > 5) score++; } else run = 1;
        }
      }
    }
    for (r = 0; r < size - 1; r++) for (c = 0; c < size - 1; c++) {
      var v = m[r][c];
      if (v === m[r][c + 1] && v === m[r + 1][c] && v === m[r + 1][c + 1]) score += 3;
    }
    var pattern = [true, false, true, true, true, false, true, false, false, false, false];
    for (r = 0; r < size; r++) for (c = 0; c + 11 <= size; c++) {
      var rowHit = true, rowBack = true, colHit = true, colBack = true;
      for (var k = 0; k < 11; k++) {
        if (m[r][c + k] !== pattern[k]) rowHit = false;
        if (m[r][c + k] !== pattern[10 - k]) rowBack = false;
        if (m[c + k][r] !== pattern[k]) colHit = false;
        if (m[c + k][r] !== pattern[10 - k]) colBack = false;
      }
      score += 40 * (rowHit + rowBack + colHit + colBack);
    }
    for (r = 0; r < size; r++) for (c = 0; c < size; c++) if (m[r][c]) dark++;
    score += Math.floor(Math.abs(dark * 20 - size * size * 10) / (size * size)) * 10;
    return score;
  }

  function matrix(text) {
    var bytes = Array.from(new TextEncoder().encode(text));
    for (var version = 1; version <= 10; version++) {
      var capacity = BLOCKS[version][1].reduce(function (a, b) { return a + b; }, 0);
      if (bytes.length + 2 + (version < 10 ? 0 : 1) <= capacity) {
        var best = null;
        for (var mask = 0; mask < 8; mask++) {
          var candidate = build(bytes, version, mask), score = penalty(candidate);
          if (!best || score < best.score) best = { modules: candidate, score: score };
        }
        return best.modules;
      }
    }
    throw new Error("text too long for a version 10 QR code");
  }

  function svg(text) {
    var modules = matrix(text), size = modules.length, quiet = 4, NS = "http://www.w3.org/2000/svg";
    var root = document.createElementNS(NS, "svg"), path = "";
    root.setAttribute("viewBox", [-quiet, -quiet, size + 2 * quiet, size + 2 * quiet].join(" "));
    root.setAttribute("shape-rendering", "crispEdges");
    for (var r = 0; r < size; r++) for (var c = 0; c < size; c++) if (modules[r][c]) path += "M" + c + " " + r + "h1v1h-1z";
    var background = document.createElementNS(NS, "rect");
    background.setAttribute("x", -quiet); background.setAttribute("y", -quiet);
    background.setAttribute("width", size + 2 * quiet); background.setAttribute("height", size + 2 * quiet);
    background.setAttribute("class", "qr-light");
    var dark = document.createElementNS(NS, "path");
    dark.setAttribute("d", path);
    dark.setAttribute("class", "qr-dark");
    root.appendChild(background);
    root.appendChild(dark);
    return root;
  }

  window.BoxofficeQR = { svg: svg, matrix: matrix };
})();
