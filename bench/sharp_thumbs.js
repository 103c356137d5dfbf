#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// sharp_thumbs.js — the sharp contender of bench/compare.sh: thumbnail a list of
// files with sharp (libvips for Node.js, its own prebuilt libvips) the way
// imgpool does with its defaults: fit inside SIZE x SIZE, never enlarged, turned
// upright by EXIF orientation, converted to sRGB, metadata stripped, JPEG at
// quality Q (libjpeg-turbo settings, 4:2:0, as sharp's default) or PNG.
//
//   node sharp_thumbs.js --sharp DIR --files0-from LIST --out DIR
//                        [--size 256] [--quality 80] [--format jpeg|png] [--in-flight K]
//                        [--no-fast-shrink]
//
// --sharp DIR        the folder sharp was installed into (npm install --prefix DIR sharp)
// --in-flight K      images processed at once (each on libvips' own threads, as
//                    many as CPUs: sharp's default concurrency)
// --no-fast-shrink   resize() with fastShrinkOnLoad: false: JPEG shrink-on-load
//                    then leaves at least a factor of two for the lanczos3
//                    resize, as vips_thumbnail() and imgpool do (sharp's default,
//                    true, decodes at about the smallest scale that still covers
//                    the box: less work, "a slight moiré pattern" per sharp's
//                    docs, lower PSNR in compare.sh's dB columns)
// Output i is OUT/<stem of input>.<jpg|png>. A file sharp cannot read is
// counted and named on stderr; the exit status is 0 either way (like
// vipsthumbnail's in compare.sh, the output count tells).
'use strict';
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
	const a = { size: 256, quality: 80, format: 'jpeg', inFlight: 2, fastShrink: true };
	for (let i = 2; i < argv.length; i++) {
		const v = argv[i + 1];
		switch (argv[i]) {
		case '--sharp': a.sharp = v; i++; break;
		case '--files0-from': a.list = v; i++; break;
		case '--out': a.out = v; i++; break;
		case '--size': a.size = parseInt(v, 10); i++; break;
		case '--quality': a.quality = parseInt(v, 10); i++; break;
		case '--format': a.format = v; i++; break;
		case '--in-flight': a.inFlight = parseInt(v, 10); i++; break;
		case '--no-fast-shrink': a.fastShrink = false; break;
		default:
			throw new Error(`unknown argument ${argv[i]}`);
		}
	}
	if (!a.sharp || !a.list || !a.out || !(a.inFlight >= 1) || !['jpeg', 'png'].includes(a.format))
		throw new Error('usage: sharp_thumbs.js --sharp DIR --files0-from LIST --out DIR ' +
			'[--size N] [--quality Q] [--format jpeg|png] [--in-flight K] [--no-fast-shrink]');
	return a;
}

async function main() {
	const a = parseArgs(process.argv);
	const sharp = require(path.join(path.resolve(a.sharp), 'node_modules', 'sharp'));
	const files = fs.readFileSync(a.list, 'latin1').split('\0').filter((f) => f.length > 0);
	const ext = a.format === 'png' ? 'png' : 'jpg';
	let next = 0, failed = 0;

	sharp.cache(false);	// every file is new: the cache only costs memory
	async function worker() {
		while (next < files.length) {
			const file = Buffer.from(files[next++], 'latin1').toString();
			const stem = path.basename(file).replace(/\.[^.]*$/, '');
			const out = path.join(a.out, `${stem}.${ext}`);
			try {
				let p = sharp(file).rotate().resize(a.size, a.size,
					{ fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: a.fastShrink });
				p = a.format === 'png' ? p.png() : p.jpeg({ quality: a.quality });
				await p.toFile(out);
			} catch (e) {
				failed++;
				process.stderr.write(`sharp_thumbs: ${file}: ${e.message}\n`);
			}
		}
	}
	await Promise.all(Array.from({ length: a.inFlight }, worker));
	if (failed)
		process.stderr.write(`sharp_thumbs: ${failed} of ${files.length} failed\n`);
}

main().catch((e) => {
	process.stderr.write(`sharp_thumbs: ${e.message}\n`);
	process.exit(2);
});
