import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import sharp from 'sharp';
import { changeScore, decodeSignature, encodeSignature, sceneStats, SIGNATURE_HEIGHT, SIGNATURE_WIDTH, type SceneStats } from '../../src/scene/scene.ts';
import { prng } from '../helpers/setup.ts';

// Stills go the realistic way: an SVG garden rendered at the camera's 1640×1232, lit, given sensor noise,
// JPEG-encoded, then decoded and shrunk to the 480 px thumbnail that moncam computes the scene stats from.
const WIDTH = 1640;
const HEIGHT = 1232;
/** "Changed" in these tests means a score above this (a typical user threshold). */
const CHANGED = 5;

/** A garden: sky, house, tree, fence, path, flower beds; `extra` adds objects, `shift` moves the camera. */
function garden(extra = '', shift = 0): string {
  const posts = Array.from({ length: 21 }, (_, i) => `<rect x="${i * 80}" y="540" width="14" height="110" fill="#a08060"/>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#7fb2e6"/><stop offset="1" stop-color="#d6e8f5"/></linearGradient></defs>
    <g transform="translate(${shift},${shift})">
      <rect x="-100" y="-100" width="${WIDTH + 200}" height="620" fill="url(#sky)"/>
      <rect x="-100" y="520" width="${WIDTH + 200}" height="${HEIGHT}" fill="#5d8a3a"/>
      <rect x="980" y="230" width="520" height="330" fill="#c9b79c"/><polygon points="950,240 1240,80 1530,240" fill="#8a3b2a"/>
      <rect x="1060" y="330" width="110" height="110" fill="#2d3f55"/><rect x="1300" y="330" width="110" height="110" fill="#2d3f55"/>
      <rect x="1190" y="420" width="90" height="140" fill="#5a3a22"/>
      <rect x="240" y="300" width="50" height="300" fill="#5b4026"/><circle cx="265" cy="260" r="150" fill="#2f6b2a"/>
      <rect x="-100" y="600" width="${WIDTH + 200}" height="18" fill="#a08060"/>${posts}
      <path d="M 600 1332 L 760 620 L 860 620 L 1100 1332 Z" fill="#b8ad96"/>
      <ellipse cx="300" cy="900" rx="160" ry="60" fill="#c05a8a"/><ellipse cx="1400" cy="950" rx="130" ry="50" fill="#e0c040"/>
      ${extra}
    </g></svg>`;
}

/** A light crate, 1/8 of the image width. */
const crate = (x: number, y: number) => `<rect x="${x}" y="${y}" width="205" height="205" fill="#e8e0d0"/>`;
const CAR = `<rect x="1000" y="800" width="560" height="190" rx="40" fill="#2050b0"/>
  <rect x="1110" y="700" width="330" height="130" rx="35" fill="#203a70"/>
  <circle cx="1130" cy="995" r="55" fill="#111"/><circle cx="1430" cy="995" r="55" fill="#111"/>`;
const PERSON = `<rect x="400" y="640" width="200" height="560" rx="50" fill="#3a3a48"/><circle cx="500" cy="585" r="70" fill="#e0b090"/>`;

const rendered = new Map<string, Promise<Buffer>>();
function render(svg: string): Promise<Buffer> {
  if (!rendered.has(svg)) rendered.set(svg, sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer());
  return rendered.get(svg)!;
}

interface Shot {
  seed: number;
  /** Light: every level is multiplied by gain, then offset is added (before the sensor noise). */
  gain?: number;
  offset?: number;
  quality?: number;
}

/** Lighting, then independent triangular noise of up to ±25 levels per pixel and channel (seeded). */
function expose(pixels: Buffer, { seed, gain = 1, offset = 0 }: Shot): Buffer {
  const random = prng(seed);
  const out = Buffer.allocUnsafe(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const noise = (random() + random() - 1) * 25;
    out[i] = Math.max(0, Math.min(255, Math.round(pixels[i]! * gain + offset + noise)));
  }
  return out;
}

async function still(svg: string, shot: Shot): Promise<SceneStats> {
  const raw = { width: WIDTH, height: HEIGHT, channels: 3 } as const;
  const jpeg = await sharp(expose(await render(svg), shot), { raw })
    .jpeg({ quality: shot.quality ?? 85 })
    .toBuffer();
  const thumb = await sharp(jpeg).resize(480, 480, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return sceneStats(thumb.data, { width: thumb.info.width, height: thumb.info.height, channels: 3 });
}

async function scorePair(t: TestContext, a: Promise<SceneStats>, b: Promise<SceneStats>): Promise<number> {
  const score = changeScore((await a).signature, (await b).signature);
  assert.ok(score !== undefined);
  t.diagnostic(`change ${score} %`);
  return score;
}

/** A uniform image; with 4 channels the alpha is opaque, as a camera's is. */
function flat(value: number, channels: 1 | 3 | 4 = 3, width = 480, height = 360): Promise<SceneStats> {
  const pixels = Buffer.alloc(width * height * channels, value);
  if (channels === 4) for (let i = 3; i < pixels.length; i += 4) pixels[i] = 255;
  return sceneStats(pixels, { width, height, channels });
}

describe('scene signature and change score', () => {
  test('the same scene with independent strong sensor noise is unchanged', async (t) => {
    assert.ok((await scorePair(t, still(garden(), { seed: 1 }), still(garden(), { seed: 2 }))) < 2);
  });

  test('JPEG quality 60 vs 95 is unchanged', async (t) => {
    const score = await scorePair(t, still(garden(), { seed: 3, quality: 60 }), still(garden(), { seed: 4, quality: 95 }));
    assert.ok(score < CHANGED);
  });

  test('a slow daylight change (+4 % of full scale) is unchanged', async (t) => {
    const before = await still(garden(), { seed: 5 });
    const after = await still(garden(), { seed: 6, offset: 10 });
    assert.ok((await scorePair(t, Promise.resolve(before), Promise.resolve(after))) < CHANGED);
    assert.ok(Math.abs(after.brightness - before.brightness - 4) < 0.5, `${before.brightness} → ${after.brightness}`);
  });

  test('an 8 % exposure jitter is unchanged', async (t) => {
    assert.ok((await scorePair(t, still(garden(), { seed: 7 }), still(garden(), { seed: 8, gain: 1.08 }))) < CHANGED);
  });

  test('a camera wobble of 8 px (0.5 % of the width) is unchanged', async (t) => {
    assert.ok((await scorePair(t, still(garden(), { seed: 9 }), still(garden('', 8), { seed: 10 }))) < CHANGED);
  });

  test('a crate moved across the lawn is a change', async (t) => {
    const score = await scorePair(t, still(garden(crate(150, 700)), { seed: 11 }), still(garden(crate(1250, 780)), { seed: 12 }));
    assert.ok(score > CHANGED);
  });

  test('a car parked in front is a change', async (t) => {
    assert.ok((await scorePair(t, still(garden(), { seed: 13 }), still(garden(CAR), { seed: 14 }))) > CHANGED);
  });

  test('a person stepping in front of the camera is a change', async (t) => {
    assert.ok((await scorePair(t, still(garden(), { seed: 15 }), still(garden(PERSON), { seed: 16 }))) > CHANGED);
  });

  test('lights off and on change nearly every cell; brightness follows', async (t) => {
    const bright = await still(garden(), { seed: 17 });
    const dark = await still(garden(), { seed: 18, gain: 0.27 });
    t.diagnostic(`brightness ${bright.brightness} % lit, ${dark.brightness} % dark`);
    assert.ok(bright.brightness > 50 && bright.brightness < 65, `lit ${bright.brightness}`);
    assert.ok(dark.brightness > 12 && dark.brightness < 18, `dark ${dark.brightness}`);
    assert.ok((await scorePair(t, Promise.resolve(bright), Promise.resolve(dark))) > 80, 'lights off');
    assert.ok((await scorePair(t, Promise.resolve(dark), Promise.resolve(bright))) > 80, 'lights on');
  });
});

describe('brightness', () => {
  test('black is 0, white is 100, grey 128 is 50.2', async () => {
    assert.equal((await flat(0)).brightness, 0);
    assert.equal((await flat(255)).brightness, 100);
    assert.equal((await flat(128)).brightness, 50.2);
  });

  test('is Rec. 601 luma', async () => {
    const width = 64;
    const height = 48;
    const red = Buffer.alloc(width * height * 3);
    for (let i = 0; i < red.length; i += 3) red[i] = 255;
    assert.equal((await sceneStats(red, { width, height, channels: 3 })).brightness, 29.9);
  });

  test('grey and RGBA input give the same as RGB', async () => {
    const rgb = await flat(90, 3);
    assert.deepEqual(await flat(90, 1), rgb);
    assert.deepEqual(await flat(90, 4), rgb);
  });

  test('the signature has one grey byte per cell, whatever the input size', async () => {
    for (const [width, height] of [
      [480, 361],
      [361, 480],
      [20, 10],
    ] as const) {
      const { signature } = await flat(200, 3, width, height);
      assert.equal(signature.length, SIGNATURE_WIDTH * SIGNATURE_HEIGHT);
      assert.ok(signature.every((v) => v === 200));
    }
  });
});

describe('signature validation', () => {
  const sig = Buffer.from(Array.from({ length: SIGNATURE_WIDTH * SIGNATURE_HEIGHT }, (_, i) => (i * 7) % 256));

  test('encode and decode round-trip', () => {
    const text = encodeSignature(sig);
    assert.equal(text.length, 1024);
    assert.deepEqual(decodeSignature(text), sig);
    assert.equal(changeScore(sig, decodeSignature(text)), 0);
  });

  test('a missing or wrong-length signature gives no score', () => {
    assert.equal(changeScore(undefined, sig), undefined);
    assert.equal(changeScore(sig, undefined), undefined);
    assert.equal(changeScore(sig, sig.subarray(1)), undefined);
    assert.equal(changeScore(Buffer.alloc(1000), sig), undefined);
  });

  test('anything but the base64 of a signature decodes to undefined', () => {
    const text = encodeSignature(sig);
    for (const bad of [undefined, null, 42, {}, [], sig, '', 'not base64 at all!', encodeSignature(sig.subarray(3))]) {
      assert.equal(decodeSignature(bad), undefined, String(bad));
    }
    assert.equal(decodeSignature(`${text}AAAA`), undefined, 'too long');
    assert.equal(decodeSignature(`${text.slice(0, 500)}*${text.slice(500)}`), undefined, 'a stray character');
    assert.equal(decodeSignature(` ${text}`), undefined, 'whitespace');
    assert.match(text, /[+/]/);
    assert.equal(decodeSignature(text.replaceAll('+', '-').replaceAll('/', '_')), undefined, 'base64url');
  });
});
