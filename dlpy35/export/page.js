/* dlpy35: a trained network in the browser.
 *
 * The page's <script id="dlpy35-model" type="application/json"> holds the network as
 * dlpy35.export.plain_layers lays it out: a list of "dense" and "convpool" layers whose arrays are
 * base64 strings of little-endian float32. This script
 *
 *   1. decodes them and runs the forward pass (predict),
 *   2. repeats dlpy35.data.digit_images.prepare, the MNIST preparation of a drawn digit, in float64
 *      arithmetic in the same order as numpy, so that it gives the same pixels (prepare),
 *   3. wires up the drawing canvas, the Clear button, the prediction, the bars and the
 *      28 x 28 preview, updated live while drawing.
 *
 * window.dlpy35 = {predict(pixels), prepare(grey, width, height)} is the page's API.
 * Nothing is fetched: the page works offline, from file://.
 */
(function () {
  "use strict";

  // ---- the network -------------------------------------------------------------------

  /** The float32 values of a base64 string of little-endian float32 bytes. */
  function decodeFloat32(text) {
    const bytes = atob(text);
    const view = new DataView(new ArrayBuffer(bytes.length));
    for (let i = 0; i < bytes.length; i++) view.setUint8(i, bytes.charCodeAt(i));
    const out = new Float32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }

  const MODEL = JSON.parse(document.getElementById("dlpy35-model").textContent);
  const LAYERS = MODEL.layers.map(function (layer) {
    return Object.assign({}, layer, { w: decodeFloat32(layer.w), b: decodeFloat32(layer.b) });
  });
  const N_IN = MODEL.input[0] * MODEL.input[1] * MODEL.input[2];
  const N_OUT = MODEL.n_out;
  // each output's class name, as the network's data set names it (MNIST's digits by default)
  const CLASSES = MODEL.classes || Array.from({ length: N_OUT }, function (_, k) { return String(k); });

  /** The activation `name` applied to z, in place; softmax over the whole vector. */
  function activate(z, name) {
    if (name === "sigmoid") {
      for (let i = 0; i < z.length; i++) z[i] = 1 / (1 + Math.exp(-z[i]));
    } else if (name === "tanh") {
      for (let i = 0; i < z.length; i++) z[i] = Math.tanh(z[i]);
    } else if (name === "relu") {
      for (let i = 0; i < z.length; i++) z[i] = Math.max(0, z[i]);
    } else if (name === "softmax") {
      // exp(z - max) / sum: the same probabilities, without overflow
      let max = -Infinity, sum = 0;
      for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]);
      for (let i = 0; i < z.length; i++) sum += (z[i] = Math.exp(z[i] - max));
      for (let i = 0; i < z.length; i++) z[i] /= sum;
    } else if (name !== "linear") {
      throw new Error("unknown activation " + name);
    }
    return z;
  }

  /** a = f(scale (x @ w) + b), w (n_in, n_out) row-major. */
  function dense(layer, x) {
    const nIn = layer.n_in, nOut = layer.n_out, w = layer.w;
    const z = new Float64Array(nOut);
    for (let i = 0; i < nIn; i++) {
      const xi = x[i];
      if (xi === 0) continue; // most of a digit is background: skip its zero terms
      const row = i * nOut;
      for (let j = 0; j < nOut; j++) z[j] += xi * w[row + j];
    }
    for (let j = 0; j < nOut; j++) z[j] = layer.scale * z[j] + layer.b[j];
    return activate(z, layer.activation);
  }

  /** f(maxpool(xcorr(x, w)) + b): x a (C, H, W) image stored flat in (y, x, channel) order,
   * w (F, C, kh, kw); the output flat in (y, x, map) order. */
  function convPool(layer, x) {
    const [C, H, W] = layer.image, [F, , KH, KW] = layer.filters, [PH, PW] = layer.pool;
    const CH = H - KH + 1, CW = W - KW + 1; // the valid cross-correlation's size
    const OH = Math.floor(CH / PH), OW = Math.floor(CW / PW);
    const w = layer.w, out = new Float64Array(OH * OW * F), map = new Float64Array(CH * CW);
    for (let f = 0; f < F; f++) {
      // the feature map of filter f: each weight times the shifted input channel
      map.fill(0);
      for (let c = 0; c < C; c++) {
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            const wv = w[((f * C + c) * KH + ky) * KW + kx];
            for (let y = 0; y < CH; y++) {
              const src = ((y + ky) * W + kx) * C + c, dst = y * CW;
              for (let xx = 0; xx < CW; xx++) map[dst + xx] += wv * x[src + xx * C];
            }
          }
        }
      }
      // non-overlapping max-pooling, then the bias
      for (let py = 0; py < OH; py++) {
        for (let px = 0; px < OW; px++) {
          let max = -Infinity;
          for (let dy = 0; dy < PH; dy++) {
            for (let dx = 0; dx < PW; dx++) max = Math.max(max, map[(py * PH + dy) * CW + px * PW + dx]);
          }
          out[(py * OW + px) * F + f] = max + layer.b[f];
        }
      }
    }
    return activate(out, layer.activation);
  }

  /** The network's output activations (n_out numbers) for one input row. */
  function predict(pixels) {
    if (!pixels || pixels.length !== N_IN) {
      throw new Error("predict: give " + N_IN + " pixels (row-major 28 x 28, light ink on dark, in [0, 1])");
    }
    let a = Float64Array.from(pixels);
    for (const layer of LAYERS) a = layer.type === "dense" ? dense(layer, a) : convPool(layer, a);
    return Array.from(a);
  }

  // ---- the MNIST preparation: dlpy35.data.digit_images.prepare, step for step -----------------------

  // dlpy35.data.digit_images' constants, as the page was written with them: the ink threshold, the least
  // contrast, the digit's box, the image's side and where the centre of mass goes
  const INK = MODEL.prepare.ink, CONTRAST = MODEL.prepare.contrast, BOX = MODEL.prepare.box;
  const SIDE = MODEL.prepare.side, CENTRE = MODEL.prepare.centre;

  /** numpy's pairwise summation of a[start .. start + n), which np.sum and np.mean use on
   * contiguous float64 data: the same additions in the same order give the same sum. */
  function pairwiseSum(a, start, n) {
    if (n < 8) {
      let s = 0;
      for (let i = 0; i < n; i++) s += a[start + i];
      return s;
    }
    if (n <= 128) {
      // eight running sums, combined as a tree, then the remainder one by one
      const r = [];
      for (let k = 0; k < 8; k++) r.push(a[start + k]);
      let i = 8;
      for (; i < n - (n % 8); i += 8) {
        for (let k = 0; k < 8; k++) r[k] += a[start + i + k];
      }
      let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
      for (; i < n; i++) s += a[start + i];
      return s;
    }
    let half = Math.floor(n / 2);
    half -= half % 8;
    return pairwiseSum(a, start, half) + pairwiseSum(a, start + half, n - half);
  }

  /** The border of a (H, W) image, in the order of images._border: the first row, the last
   * row, then the left and the right columns without their corners. */
  function border(a, W, H) {
    const out = new Float64Array(2 * W + 2 * (H - 2));
    let k = 0;
    for (let x = 0; x < W; x++) out[k++] = a[x];
    for (let x = 0; x < W; x++) out[k++] = a[(H - 1) * W + x];
    for (let y = 1; y < H - 1; y++) out[k++] = a[y * W];
    for (let y = 1; y < H - 1; y++) out[k++] = a[y * W + W - 1];
    return out;
  }

  /** images._area_weights(nOut, nIn) by rows, keeping only the non-zero run of each:
   * [{first, weights}], output pixel i = sum over j of weights[j] * input[first + j]. */
  function areaWeights(nOut, nIn) {
    const step = nIn / nOut, rows = [];
    for (let i = 0; i < nOut; i++) {
      const lo = i * step, hi = (i + 1) * step, first = Math.floor(lo), weights = [];
      for (let j = first; j < Math.min(Math.ceil(hi), nIn); j++) {
        weights.push((Math.min(hi, j + 1) - Math.max(lo, j)) / step);
      }
      rows.push({ first: first, weights: weights });
    }
    return rows;
  }

  /** The 784 MNIST-style pixels (row-major 28 x 28, light ink on dark, k / 256) of a digit
   * given as grey levels in [0, 1] (row-major, `height` rows of `width`), ink dark on light
   * or light on dark; throws an Error on a blank image, as images.prepare raises ImageError. */
  function prepare(grey, width, height) {
    const W = width, H = height;
    if (!Number.isInteger(W) || !Number.isInteger(H) || Math.min(W, H) < 3 || !grey ||
        grey.length !== W * H) {
      throw new Error("prepare: give grey levels in [0, 1] of an image at least 3 x 3, width * height of them");
    }
    const ink = Float64Array.from(grey);
    for (let i = 0; i < ink.length; i++) {
      if (!(ink[i] >= 0 && ink[i] <= 1)) throw new Error("prepare: grey levels must be in [0, 1]");
    }
    // 1. ink is what differs from the paper: invert when the border (the paper) is light
    const edge = border(ink, W, H);
    if (pairwiseSum(edge, 0, edge.length) / edge.length > 0.5) {
      for (let i = 0; i < ink.length; i++) ink[i] = 1.0 - ink[i];
    }
    // 2. the paper's level (lower median of the border) becomes 0, the darkest ink 1
    const sorted = border(ink, W, H).sort(); // a Float64Array sorts numerically
    const paper = sorted[(sorted.length - 1) >> 1];
    let darkest = -Infinity;
    for (let i = 0; i < ink.length; i++) darkest = Math.max(darkest, ink[i]);
    if (darkest - paper < CONTRAST) {
      throw new Error("blank: no ink stands out from the paper; draw a digit");
    }
    for (let i = 0; i < ink.length; i++) {
      ink[i] = Math.min(Math.max((ink[i] - paper) / (darkest - paper), 0), 1);
    }
    // 3. crop to the rows and columns with ink (never empty: the darkest pixel is 1 now)
    let top = H, bottom = -1, left = W, right = -1;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (ink[y * W + x] > INK) {
          top = Math.min(top, y); bottom = Math.max(bottom, y);
          left = Math.min(left, x); right = Math.max(right, x);
        }
      }
    }
    const h = bottom - top + 1, w = right - left + 1, longest = Math.max(h, w);
    // 4. fit into BOX x BOX keeping the aspect ratio: small = Rh @ crop @ Rw^T, each sum in
    //    order of the input pixels (numpy's BLAS may differ in the last bit)
    const nh = Math.max(1, Math.floor(h * BOX / longest + 0.5));
    const nw = Math.max(1, Math.floor(w * BOX / longest + 0.5));
    const rh = areaWeights(nh, h), rw = areaWeights(nw, w);
    const tall = new Float64Array(nh * w); // Rh @ crop
    for (let i = 0; i < nh; i++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        rh[i].weights.forEach(function (r, j) { s += r * ink[(top + rh[i].first + j) * W + left + x]; });
        tall[i * w + x] = s;
      }
    }
    const small = new Float64Array(nh * nw); // (Rh @ crop) @ Rw^T
    for (let i = 0; i < nh; i++) {
      for (let k = 0; k < nw; k++) {
        let s = 0;
        rw[k].weights.forEach(function (r, j) { s += tall[i * w + rw[k].first + j] * r; });
        small[i * nw + k] = s;
      }
    }
    // 5. the centre of mass at (CENTRE, CENTRE) of SIDE x SIDE; the sums as numpy does them:
    //    small.sum() and small.sum(axis=1) pairwise, small.sum(axis=0) row after row
    const total = pairwiseSum(small, 0, nh * nw);
    const byRow = new Float64Array(nh), byCol = new Float64Array(nw);
    for (let i = 0; i < nh; i++) byRow[i] = pairwiseSum(small, i * nw, nw) * i;
    if (nw === 1) {
      byCol[0] = 0; // the only column, at x = 0: its moment is 0
    } else {
      const colSum = new Float64Array(nw);
      for (let i = 0; i < nh; i++) {
        for (let k = 0; k < nw; k++) colSum[k] += small[i * nw + k];
      }
      for (let k = 0; k < nw; k++) byCol[k] = colSum[k] * k;
    }
    const cy = pairwiseSum(byRow, 0, nh) / total, cx = pairwiseSum(byCol, 0, nw) / total;
    const y0 = Math.min(Math.max(Math.floor(CENTRE - cy + 0.5), 0), SIDE - nh);
    const x0 = Math.min(Math.max(Math.floor(CENTRE - cx + 0.5), 0), SIDE - nw);
    // 6. quantised to bytes, scaled as dlpy35's MNIST is: k / 256
    const out = new Array(SIDE * SIDE).fill(0);
    for (let i = 0; i < nh; i++) {
      for (let k = 0; k < nw; k++) {
        out[(y0 + i) * SIDE + x0 + k] = Math.floor(small[i * nw + k] * 255 + 0.5) / 256;
      }
    }
    return out;
  }

  window.dlpy35 = { predict: predict, prepare: prepare, classes: CLASSES.slice() };

  // ---- the page -----------------------------------------------------------------------

  const pad = document.getElementById("pad");
  const pen = pad.getContext("2d", { willReadFrequently: true });
  const preview = document.getElementById("preview");
  const digit = document.getElementById("digit"), score = document.getElementById("score");
  const bars = document.getElementById("bars");

  // one bar per output, labelled with its class
  const fills = [], values = [];
  for (let k = 0; k < N_OUT; k++) {
    const bar = document.createElement("div"), fill = document.createElement("div");
    const value = document.createElement("span"), label = document.createElement("span");
    bar.className = "bar";
    fill.className = "fill";
    value.className = "value";
    label.className = "label";
    label.textContent = CLASSES[k];
    label.title = CLASSES[k]; // the whole name, where a long one is cut short
    bar.append(value, fill, label);
    bars.append(bar);
    fills.push(fill);
    values.push(value);
  }

  function clearPad() {
    pen.fillStyle = "#fff";
    pen.fillRect(0, 0, pad.width, pad.height);
    update();
  }

  /** Grey levels of the canvas as images.read_grey reads an image file: ITU-R 601 luma,
   * transparency as white paper. */
  function padGrey() {
    const rgba = pen.getImageData(0, 0, pad.width, pad.height).data;
    const grey = new Float64Array(pad.width * pad.height);
    for (let i = 0; i < grey.length; i++) {
      const r = rgba[4 * i] / 255, g = rgba[4 * i + 1] / 255, b = rgba[4 * i + 2] / 255, a = rgba[4 * i + 3] / 255;
      grey[i] = (r * 0.299 + g * 0.587 + b * 0.114) * a + (1 - a);
    }
    return grey;
  }

  function showPreview(pixels) {
    const ctx = preview.getContext("2d"), image = ctx.createImageData(SIDE, SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) {
      const level = pixels ? Math.round(pixels[i] * 256) : 0; // k / 256 back to the byte k
      image.data.set([level, level, level, 255], 4 * i);
    }
    ctx.putImageData(image, 0, 0);
  }

  /** Prepare what is drawn, run the network, show the result. */
  function update() {
    let pixels = null;
    try {
      pixels = prepare(padGrey(), pad.width, pad.height);
    } catch (err) {
      // a blank canvas: nothing to predict yet
    }
    showPreview(pixels);
    const out = pixels ? predict(pixels) : new Array(N_OUT).fill(0);
    const top = pixels ? out.indexOf(Math.max.apply(null, out)) : -1;
    const highest = Math.max(1, Math.max.apply(null, out)); // bars in [0, 1], or scaled to the highest
    out.forEach(function (a, k) {
      fills[k].style.height = (100 * Math.max(0, a) / highest).toFixed(1) + "%";
      fills[k].classList.toggle("top", k === top);
      values[k].textContent = pixels ? a.toFixed(2) : "";
    });
    digit.textContent = pixels ? CLASSES[top] : "?";
    digit.classList.toggle("long", pixels !== null && CLASSES[top].length > 2);
    score.textContent = pixels ? "score " + out[top].toFixed(3) : "draw a digit";
  }

  // live updates: at most once per frame, however many pointer events arrive
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; update(); });
  }

  // drawing with mouse, pen or finger: pointer events, captured while the button is down
  let last = null;
  function at(event) {
    const rect = pad.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * pad.width / rect.width,
      y: (event.clientY - rect.top) * pad.height / rect.height,
    };
  }
  function stroke(from, to) {
    pen.strokeStyle = "#000";
    pen.lineWidth = pad.width / 14; // about MNIST's stroke once the digit is 20 pixels high
    pen.lineCap = "round";
    pen.lineJoin = "round";
    pen.beginPath();
    pen.moveTo(from.x, from.y);
    pen.lineTo(to.x, to.y);
    pen.stroke();
  }
  pad.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    pad.setPointerCapture(event.pointerId);
    last = at(event);
    stroke(last, last); // a round dot where the pen touches
    schedule();
    event.preventDefault();
  });
  pad.addEventListener("pointermove", function (event) {
    if (last === null) return;
    // the coalesced events trace a fast stroke more finely than the one event does
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) {
      const p = at(e);
      stroke(last, p);
      last = p;
    }
    schedule();
  });
  function lift() {
    last = null;
    schedule();
  }
  pad.addEventListener("pointerup", lift);
  pad.addEventListener("pointercancel", lift);
  document.getElementById("clear").addEventListener("click", clearPad);

  clearPad();
})();
