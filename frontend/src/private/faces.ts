// Face detection, 68 landmarks and ArcFace alignment in the browser: the same two ONNX files
// as the server (inference/engine/face_models/, converted from face-api 1.7.15's weights) run
// by onnxruntime-web, and around them the arithmetic of inference/engine/portable_faces.py,
// written here line for line (same float64 operations in the same order), so that the same
// pixels give the same boxes, points and crop on both sides. See docs/browser-search.md.
import type * as Ort from 'onnxruntime-web/wasm';

export const DETECTOR_SIZE = 416;
export const LANDMARK_SIZE = 112;
export const CROP_SIZE = 112;
export const SCORE_THRESHOLD = 0.3; // portable_faces.SCORE_THRESHOLD (face-api's 0.5 is too close to two fixture faces)
export const IOU_THRESHOLD = 0.4;
export const ANCHORS: ReadonlyArray<readonly [number, number]> = [
  [1.603231, 2.094468], [6.041143, 7.080126], [2.882459, 3.518061], [4.266906, 5.178857], [9.041765, 10.66308],
];
/** portable_faces.PORTABLE_TARGETS: face-api's five points in the 112 crop (calibrated on dlib's frame). */
export const PORTABLE_TARGETS: ReadonlyArray<readonly [number, number]> = [
  [36.8, 51.3], [73.4, 51.6], [54.5, 73.9], [39.1, 89.6], [71.9, 89.9],
];

/** An RGB photo, 3 bytes per pixel, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** A 2x3 affine matrix, row-major: [a, b, c, d, e, f] maps (x, y) to (ax + by + c, dx + ey + f). */
export type Affine = [number, number, number, number, number, number];
export type Box = [number, number, number, number]; // left, top, right, bottom
export type Point = [number, number];

function inverse(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/** Samples per axis per output pixel: 1 unless the warp shrinks more than 2x. */
export function supersampling(m: Affine): number {
  const scale = Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
  return Math.max(1, Math.ceil(0.5 / scale - 1e-9));
}

/** portable_faces.warp_affine: (height, width, 3) float64, output (x, y) samples the photo at
 *  m^-1 (x, y), pixel centres at integers, bilinear, black outside, k x k supersampling. */
export function warpAffine(image: RgbImage, m: Affine, width: number, height: number): Float64Array {
  const { width: w, height: h, data } = image;
  const [ia, ib, ic, id, ie, iff] = inverse(m);
  const k = supersampling(m);
  const out = new Float64Array(width * height * 3);
  const acc = [0, 0, 0];
  for (let sy = 0; sy < k; sy++) {
    const oy = (sy + 0.5) / k - 0.5;
    for (let sx = 0; sx < k; sx++) {
      const ox = (sx + 0.5) / k - 0.5;
      for (let y = 0; y < height; y++) {
        const py = y + oy;
        for (let x = 0; x < width; x++) {
          const px = x + ox;
          const u = ia * px + ib * py + ic;
          const v = id * px + ie * py + iff;
          const x0 = Math.floor(u);
          const y0 = Math.floor(v);
          const fx = u - x0;
          const fy = v - y0;
          acc[0] = 0;
          acc[1] = 0;
          acc[2] = 0;
          for (let dy = 0; dy < 2; dy++) {
            const wy = dy === 0 ? 1.0 - fy : fy;
            const yi = y0 + dy;
            for (let dx = 0; dx < 2; dx++) {
              const wx = dx === 0 ? 1.0 - fx : fx;
              const xi = x0 + dx;
              const weight = wy * wx;
              const inside = xi >= 0 && xi < w && yi >= 0 && yi < h;
              const at = (yi * w + xi) * 3;
              for (let c = 0; c < 3; c++) acc[c] = acc[c] + (inside ? data[at + c] : 0) * weight;
            }
          }
          const o = (y * width + x) * 3;
          for (let c = 0; c < 3; c++) out[o + c] = out[o + c] + acc[c];
        }
      }
    }
  }
  const n = k * k;
  for (let i = 0; i < out.length; i++) out[i] = out[i] / n;
  return out;
}

/** floor(v + 0.5) clipped to 0..255, as portable_faces.to_uint8. */
export function toUint8(values: Float64Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.min(255, Math.max(0, Math.floor(values[i] + 0.5)));
  return out;
}

/** Maps the square [left, left + side) x [top, top + side) (pixel edges) onto size x size. */
export function squareTransform(left: number, top: number, side: number, size: number): Affine {
  const s = size / side;
  return [s, 0, (0.5 - left) * s - 0.5, 0, s, (0.5 - top) * s - 0.5];
}

const sigmoid = (x: number) => 1.0 / (1.0 + Math.exp(-x));

/** Detector output (cells x cells x 25, row-major) -> boxes (photo pixel-centre coordinates)
 *  and scores, in cell-row, cell-column, anchor order (portable_faces.decode_grid). */
export function decodeGrid(grid: ArrayLike<number>, cells: number, side: number, scoreThreshold = SCORE_THRESHOLD) {
  const boxes: Box[] = [];
  const scores: number[] = [];
  const n = ANCHORS.length;
  for (let row = 0; row < cells; row++) {
    for (let col = 0; col < cells; col++) {
      for (let a = 0; a < n; a++) {
        const at = ((row * cells + col) * n + a) * 5;
        const score = sigmoid(grid[at + 4]);
        if (!(score > scoreThreshold)) continue;
        const cx = (col + sigmoid(grid[at])) / cells;
        const cy = (row + sigmoid(grid[at + 1])) / cells;
        const bw = (Math.exp(grid[at + 2]) * ANCHORS[a][0]) / cells;
        const bh = (Math.exp(grid[at + 3]) * ANCHORS[a][1]) / cells;
        const left = cx - bw / 2;
        const top = cy - bh / 2;
        boxes.push([left * side - 0.5, top * side - 0.5, (left + bw) * side - 0.5, (top + bh) * side - 0.5]);
        scores.push(score);
      }
    }
  }
  return { boxes, scores };
}

export function iou(a: Box, b: Box): number {
  const w = Math.max(0.0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0.0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const areaA = (a[2] - a[0]) * (a[3] - a[1]);
  const areaB = (b[2] - b[0]) * (b[3] - b[1]);
  return inter / (areaA + areaB - inter);
}

/** Greedy non-maximum suppression, best score first (ties: lower index first); each group is
 *  the kept index followed by the indices it suppressed, in score order. */
export function nmsGroups(boxes: Box[], scores: number[], iouThreshold = IOU_THRESHOLD): number[][] {
  let order = scores.map((_, i) => i).sort((i, j) => scores[j] - scores[i] || i - j);
  const groups: number[][] = [];
  while (order.length) {
    const best = order.shift()!;
    const group = [best];
    const rest: number[] = [];
    for (const i of order) (iou(boxes[best], boxes[i]) > iouThreshold ? group : rest).push(i);
    groups.push(group);
    order = rest;
  }
  return groups;
}

/** The indices NMS keeps, best score first. */
export function nms(boxes: Box[], scores: number[], iouThreshold = IOU_THRESHOLD): number[] {
  return nmsGroups(boxes, scores, iouThreshold).map((g) => g[0]);
}

/** portable_faces.merged_box: a group's boxes averaged, each weighted by score - threshold
 *  (smooth under a level of decoder noise, where plain NMS can swap anchors). */
export function mergedBox(boxes: Box[], scores: number[], group: number[], scoreThreshold = SCORE_THRESHOLD): Box {
  let total = 0.0;
  const acc = [0.0, 0.0, 0.0, 0.0];
  for (const i of group) {
    const weight = scores[i] - scoreThreshold;
    total += weight;
    for (let j = 0; j < 4; j++) acc[j] += weight * boxes[i][j];
  }
  return [acc[0] / total, acc[1] / total, acc[2] / total, acc[3] / total];
}

/** The box centred in a square, (left, top, side) in pixel-edge coordinates. */
export function landmarkSquare(box: Box): [number, number, number] {
  const [left, top, right, bottom] = box;
  const side = Math.max(right - left, bottom - top);
  const cx = (left + right) / 2 + 0.5;
  const cy = (top + bottom) / 2 + 0.5;
  return [cx - side / 2, cy - side / 2, side];
}

/** ArcFace's five points from the 68: eye-contour centroids, nose tip 30, mouth corners 48, 54. */
export function fivePoints(landmarks: Point[]): Point[] {
  const centroid = (lo: number, hi: number): Point => {
    let sx = 0.0;
    let sy = 0.0;
    for (let i = lo; i < hi; i++) {
      sx += landmarks[i][0];
      sy += landmarks[i][1];
    }
    return [sx / (hi - lo), sy / (hi - lo)];
  };
  return [centroid(36, 42), centroid(42, 48), [...landmarks[30]], [...landmarks[48]], [...landmarks[54]]];
}

/** face_align.similarity_transform (Umeyama, no reflection) in its 2-D closed form:
 *  scale * rotation = [[a, -b], [b, a]] / var with a = sum(s . d), b = sum(s x d). */
export function similarityTransform(src: ReadonlyArray<readonly [number, number]>, dst: ReadonlyArray<readonly [number, number]>): Affine {
  const n = src.length;
  let msx = 0, msy = 0, mdx = 0, mdy = 0;
  for (let i = 0; i < n; i++) {
    msx += src[i][0]; msy += src[i][1]; mdx += dst[i][0]; mdy += dst[i][1];
  }
  msx /= n; msy /= n; mdx /= n; mdy /= n;
  let a = 0, b = 0, v = 0;
  for (let i = 0; i < n; i++) {
    const sx = src[i][0] - msx, sy = src[i][1] - msy;
    const dx = dst[i][0] - mdx, dy = dst[i][1] - mdy;
    a += sx * dx + sy * dy;
    b += sx * dy - sy * dx;
    v += sx * sx + sy * sy;
  }
  const p = a / v, q = b / v;
  return [p, -q, mdx - (p * msx - q * msy), q, p, mdy - (q * msx + p * msy)];
}

export function applyTransform(m: Affine, points: Point[]): Point[] {
  return points.map(([x, y]) => [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]]);
}

export interface BrowserFace {
  crop: Uint8Array; // 112 x 112 x 3 RGB
  points5: Point[];
  landmarks: Point[];
  transform: Affine;
  box: Box;
  score: number;
  nFaces: number;
}

export interface FaceModelOptions {
  wasmPaths?: string;
  numThreads?: number;
  ort?: typeof Ort;
}

/** The detector and landmark sessions; `alignFace` is portable_faces.align_face. */
export class BrowserFaces {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly detector: Ort.InferenceSession,
    private readonly landmarker: Ort.InferenceSession,
  ) {}

  static async load(detector: Uint8Array, landmarker: Uint8Array, options: FaceModelOptions = {}): Promise<BrowserFaces> {
    const ort = options.ort ?? (await import('onnxruntime-web/wasm'));
    if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
    ort.env.wasm.numThreads = options.numThreads ?? 1;
    const create = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    return new BrowserFaces(ort, await create(detector), await create(landmarker));
  }

  private async run(session: Ort.InferenceSession, pixels: Float64Array, size: number): Promise<Float32Array> {
    const input = new this.ort.Tensor('float32', Float32Array.from(pixels), [1, size, size, 3]);
    const out = await session.run({ image: input });
    return out[session.outputNames[0]].data as Float32Array;
  }

  /** (box, score) of every face, largest box first (ties: higher score first); each box is its
   *  NMS group's weighted mean, its score the group's best. */
  async detect(image: RgbImage): Promise<Array<{ box: Box; score: number }>> {
    const side = Math.max(image.width, image.height);
    const pixels = warpAffine(image, squareTransform(0.0, 0.0, side, DETECTOR_SIZE), DETECTOR_SIZE, DETECTOR_SIZE);
    const grid = await this.run(this.detector, pixels, DETECTOR_SIZE);
    const cells = Math.round(Math.sqrt(grid.length / 25));
    const { boxes, scores } = decodeGrid(grid, cells, side);
    const area = (b: Box) => (b[2] - b[0]) * (b[3] - b[1]);
    const found = nmsGroups(boxes, scores).map((g) => ({ box: mergedBox(boxes, scores, g), score: scores[g[0]] }));
    // Array.prototype.sort is stable, as Python's sort: equal areas keep the score order.
    found.sort((a, b) => area(b.box) - area(a.box));
    return found;
  }

  async landmarks68(image: RgbImage, box: Box): Promise<Point[]> {
    const [left, top, side] = landmarkSquare(box);
    const pixels = warpAffine(image, squareTransform(left, top, side, LANDMARK_SIZE), LANDMARK_SIZE, LANDMARK_SIZE);
    const rel = await this.run(this.landmarker, pixels, LANDMARK_SIZE);
    const points: Point[] = [];
    for (let i = 0; i < 68; i++) points.push([left + rel[2 * i] * side - 0.5, top + rel[2 * i + 1] * side - 0.5]);
    return points;
  }

  /** The largest face, aligned to the 112x112 crop; null when there is none. */
  async alignFace(image: RgbImage): Promise<BrowserFace | null> {
    const found = await this.detect(image);
    if (!found.length) return null;
    const { box, score } = found[0];
    const landmarks = await this.landmarks68(image, box);
    const points5 = fivePoints(landmarks);
    const transform = similarityTransform(points5, PORTABLE_TARGETS);
    const crop = toUint8(warpAffine(image, transform, CROP_SIZE, CROP_SIZE));
    return { crop, points5, landmarks, transform, box, score, nFaces: found.length };
  }

  async dispose(): Promise<void> {
    await this.detector.release();
    await this.landmarker.release();
  }
}

/** A photo decoded by the browser (EXIF orientation applied, no colour conversion), as RGB. */
export async function decodePhoto(blob: Blob): Promise<RgbImage> {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  const image = { width: bitmap.width, height: bitmap.height, data: rgb };
  bitmap.close();
  return image;
}
