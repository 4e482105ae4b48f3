// The pure pieces of faces.ts against portable_faces.py: the expected numbers below were
// computed by the Python module (the server's side) on the same inputs.
import { describe, expect, it } from 'vitest';
import {
  ANCHORS, PORTABLE_TARGETS, applyTransform, decodeGrid, fivePoints, iou, landmarkSquare, mergedBox, nms, nmsGroups,
  similarityTransform,
  squareTransform, supersampling, toUint8, warpAffine, type Affine, type Box, type Point, type RgbImage,
} from './faces';

const ramp = (w: number, h: number): RgbImage => {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = (x * 7 + y * 13 + c * 5) % 256;
  return { width: w, height: h, data };
};

describe('similarityTransform', () => {
  it('matches face_align.similarity_transform (SVD) on five points', () => {
    const src: Point[] = [[120.5, 140.25], [180.0, 138.0], [150.0, 175.5], [128.0, 205.0], [172.0, 203.5]];
    const python = [0.6167797276528824, -0.006831552235605311, -36.2605359376675, 0.006831552235605306, 0.6167797276528825, -36.129080024303946];
    const m = similarityTransform(src, PORTABLE_TARGETS);
    m.forEach((v, i) => expect(v).toBeCloseTo(python[i], 12));
  });

  it('recovers a known rotation, scale and shift exactly', () => {
    const t = 0.3, s = 1.7;
    const truth: Affine = [s * Math.cos(t), -s * Math.sin(t), 5, s * Math.sin(t), s * Math.cos(t), -2];
    const src: Point[] = [[0, 0], [10, 1], [3, 8], [-4, 6], [7, -5]];
    const m = similarityTransform(src, applyTransform(truth, src));
    m.forEach((v, i) => expect(v).toBeCloseTo(truth[i], 12));
  });

  it('never reflects: mirrored points give a proper rotation', () => {
    const src: Point[] = [[0, 0], [10, 0], [0, 5]];
    const m = similarityTransform(src, src.map(([x, y]) => [-x, y] as Point));
    expect(m[0] * m[4] - m[1] * m[3]).toBeGreaterThanOrEqual(0);
  });
});

describe('warpAffine', () => {
  it('is the identity for the identity matrix', () => {
    const img = ramp(9, 7);
    expect(Array.from(toUint8(warpAffine(img, [1, 0, 0, 0, 1, 0], 9, 7)))).toEqual(Array.from(img.data));
  });

  it('matches portable_faces.warp_affine bilinearly, black outside', () => {
    const out = warpAffine(ramp(9, 7), [0.8, 0.3, -1.2, -0.3, 0.8, 2.5], 6, 5);
    const python = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 18.703884406079922, 20.690185775942933, 22.676487145805943,
      44.25276787389752, 48.293863764308476, 52.334959654719434, 0, 0, 0, 5.515668981047095, 6.817038844060793,
      8.11840870707449, 19.37380371551885, 22.729968099080487, 26.08613248264213];
    python.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 10));
    expect(out[out.length - 1]).toBeCloseTo(107.73972602739727, 10);
  });

  it('supersamples 2x2 when shrinking more than twice, as the server does', () => {
    const m: Affine = [0.4, 0, 0.3, 0, 0.4, 0.1];
    expect(supersampling(m)).toBe(2);
    const out = warpAffine(ramp(9, 7), m, 4, 3);
    const python = [1.0664062499999996, 2.2968749999999996, 3.52734375, 9.328124999999998, 12.140624999999998,
      14.953124999999996, 19.171875, 21.984374999999996, 24.796875, 29.015624999999996, 31.828125, 34.640625];
    python.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 10));
    expect(supersampling([0.5, 0, 0, 0, 0.5, 0])).toBe(1);
    expect(supersampling([0.2, 0, 0, 0, 0.2, 0])).toBe(3);
  });

  it('rounds half up and clips', () => {
    expect(Array.from(toUint8(Float64Array.from([0.49, 0.5, 254.5, 300, -3])))).toEqual([0, 1, 255, 255, 0]);
  });
});

describe('detector decoding and NMS', () => {
  it('decodes one confident anchor as portable_faces.decode_grid', () => {
    const grid = new Float32Array(13 * 13 * 25).fill(-10);
    grid.set([0, 0, 0, 0, 3], (4 * 13 + 7) * 25 + 2 * 5);
    const { boxes, scores } = decodeGrid(grid, 13, 416);
    expect(scores).toHaveLength(1);
    expect(scores[0]).toBeCloseTo(1 / (1 + Math.exp(-3)), 12);
    const cx = (7.5 / 13) * 416 - 0.5, cy = (4.5 / 13) * 416 - 0.5;
    const w = (ANCHORS[2][0] / 13) * 416, h = (ANCHORS[2][1] / 13) * 416;
    [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2].forEach((v, i) => expect(boxes[0][i]).toBeCloseTo(v, 9));
  });

  it('keeps the best of overlapping boxes, ties to the lower index', () => {
    const boxes: Box[] = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]];
    expect(iou(boxes[0], boxes[1])).toBeCloseTo(81 / 119, 12);
    expect(nms(boxes, [0.6, 0.9, 0.7, 0.9])).toEqual([1, 2]);
    expect(nmsGroups(boxes, [0.6, 0.9, 0.7, 0.9])).toEqual([[1, 3, 0], [2]]);
  });

  it('merges a group weighting each box by its score above the threshold', () => {
    const merged = mergedBox([[0, 0, 10, 10], [2, 2, 12, 12]], [0.9, 0.5], [0, 1], 0.3);
    [0.5, 0.5, 10.5, 10.5].forEach((v, i) => expect(merged[i]).toBeCloseTo(v, 12));
  });
});

describe('landmark geometry', () => {
  it('centres the box in a square and maps it onto 112', () => {
    expect(landmarkSquare([10, 20, 50, 100])).toEqual([-9.5, 20.5, 80]);
    const m = squareTransform(0, 0, 224, 112);
    expect(applyTransform(m, [[-0.5, -0.5], [223.5, 223.5]])).toEqual([[-0.5, -0.5], [111.5, 111.5]]);
  });

  it('takes eye centroids, nose tip and mouth corners from the 68 points', () => {
    const lm: Point[] = Array.from({ length: 68 }, (_, i) => [i, 2 * i]);
    expect(fivePoints(lm)).toEqual([[38.5, 77], [44.5, 89], [30, 60], [48, 96], [54, 108]]);
  });
});
