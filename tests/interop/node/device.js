'use strict';
// A store-only storage battery (0x027D01) on an ECHONET Lite stack drready did not write: the
// npm module echonet-lite. It keeps every value written to it (operation mode 0xDA, target
// powers 0xEB/0xEC, the DR duration 0xF0, the reserve 0xA7, ...) and reports the mode as its
// working status, but never moves its power: 0xD3 stays 0 W and its energy counters stand still.
// The stack parses requests, answers the node profile and Gets, and sends every datagram; this
// file only holds the battery's values and answers Sets (the stack's own Set answer does not
// keep values of a class it does not know).
//
// The stack answers to UDP port 3610 of the requester, from a socket of its own (port 23610),
// whatever port the request came from. It hard-binds 0.0.0.0:3610 and joins 224.0.23.0 on the
// default interface, so this file wraps its sockets: the node binds HOST:3610 and HOST:23610
// only, receives the group on a socket of its own joined on HOST's interface (loopback), and
// refuses to bind or send anywhere else. Nothing leaves the machine.
//
//   node device.js 127.0.0.2        (prints one line when it listens; SIGINT/SIGTERM stop it)

const dgram = require('dgram');

const HOST = process.argv[2] || '127.0.0.2';
const PORT = 3610;
const GROUP = '224.0.23.0';

if (!/^127\.\d+\.\d+\.\d+$/.test(HOST)) {
	console.error(`device.js: ${HOST} is not a loopback address (127.x.y.z); refusing to start`);
	process.exit(2);
}

function fail(message) {
	console.error(`device.js: ${message}`);
	process.exit(2);
}

function loopbackOnly(address) {
	return address === GROUP || /^127\./.test(address);
}

// -- the stack's sockets, kept on loopback -------------------------------------------------
const createSocket = dgram.createSocket;
let groupSocket = null;
const listening = [];

function joinGroup(unicast) {
	// The stack's receiving socket now listens on HOST only; datagrams to the group arrive on a
	// socket bound to the group address, joined on HOST's interface, and go to the same handler.
	groupSocket = createSocket.call(dgram, { type: 'udp4', reuseAddr: true });
	groupSocket.on('error', (err) => fail(`group socket: ${err.message}`));
	groupSocket.on('message', (msg, rinfo) => unicast.emit('message', msg, rinfo));
	listening.push(new Promise((resolve) => groupSocket.once('listening', resolve)));
	groupSocket.bind({ address: GROUP, port: PORT }, () => {
		groupSocket.addMembership(GROUP, HOST);
		groupSocket.setMulticastInterface(HOST);
	});
}

dgram.createSocket = function (options, listener) {
	const sock = createSocket.call(dgram, options, listener);
	const bind = sock.bind.bind(sock);
	const send = sock.send.bind(sock);
	sock.bind = function (...args) {
		let port;
		let address;
		if (typeof args[0] === 'object') {
			({ port, address } = args[0]);
		} else {
			port = args[0];
			address = typeof args[1] === 'string' ? args[1] : undefined;
		}
		const done = args.find((a) => typeof a === 'function');
		if (address === '0.0.0.0' && port === PORT) {
			address = HOST;
			sock.on('error', (err) => fail(`${HOST}:${PORT}: ${err.message}`));
			listening.push(new Promise((resolve) => sock.once('listening', resolve)));
			joinGroup(sock);
			// The stack would join the group on the default interface: the group socket has.
			sock.addMembership = () => {};
		}
		if (address !== HOST) {
			throw new Error(`device.js: refusing to bind ${address}:${port}, not ${HOST}`);
		}
		return bind({ address, port }, done);
	};
	sock.send = function (buffer, offset, length, port, address, callback) {
		if (typeof address !== 'string' || !loopbackOnly(address)) {
			throw new Error(`device.js: refusing to send to ${address}: loopback only`);
		}
		return send(buffer, offset, length, port, address, callback);
	};
	return sock;
};

const EL = require('echonet-lite');

// -- the battery's values --------------------------------------------------------------------
const BATTERY = '027d01';
const CAPACITY_WH = 9800;
const SOC_PCT = 50;
const RESERVE_PCT = 10;

function u32(value) {
	return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

function ascii12(text) {
	const bytes = Array.from(Buffer.from(text.padEnd(12, ' '), 'ascii'));
	return bytes.slice(0, 12);
}

function clock() {
	const now = new Date();
	const year = now.getFullYear();
	return {
		'97': [now.getHours(), now.getMinutes()],
		'98': [(year >> 8) & 0xff, year & 0xff, now.getMonth() + 1, now.getDate()],
	};
}

const MAKER = [0xff, 0xff, 0xfe];
const stored = CAPACITY_WH * SOC_PCT / 100;
const battery = {
	'80': [0x30], // operation status: on
	'81': [0x00], // installation location: not set
	'82': [0x00, 0x00, 0x52, 0x00], // Appendix release R
	'83': [0xfe, ...MAKER, ...Array(12).fill(0x00), 0x01], // identification number
	'88': [0x42], // fault status: none
	'89': [0x00, 0x00], // fault description: none
	'8a': MAKER, // maker code (assigned to no maker)
	'8c': ascii12('NPM-STORE'), // product code
	'8d': ascii12('NPM0000001'), // serial number
	...clock(),
	'a0': u32(CAPACITY_WH), // AC effective capacity (charging), Wh
	'a1': u32(CAPACITY_WH), // AC effective capacity (discharging), Wh
	'a2': u32(CAPACITY_WH), // AC chargeable capacity, Wh
	'a3': u32(CAPACITY_WH), // AC dischargeable capacity, Wh
	'a4': u32(CAPACITY_WH - stored), // AC chargeable energy, Wh
	'a5': u32(stored - CAPACITY_WH * RESERVE_PCT / 100), // AC dischargeable energy, Wh
	'a7': [RESERVE_PCT], // AC discharge lower limit, %
	'a8': u32(1000), // cumulative charged, 0.001 kWh: it never moves
	'a9': u32(1000), // cumulative discharged, 0.001 kWh: it never moves
	'aa': u32(0), // AC charge amount setting, Wh
	'ab': u32(0), // AC discharge amount setting, Wh
	'c1': [0x01], // charging method: maximum charging power
	'c2': [0x01], // discharging method: maximum discharging power
	'c8': [...u32(0), ...u32(3000)], // min/max charging power, W
	'c9': [...u32(0), ...u32(3000)], // min/max discharging power, W
	'cf': [0x46], // working operation status: follows the mode it was given
	'd3': u32(0), // instantaneous charging/discharging power, W: always 0
	'da': [0x46], // operation mode: auto
	'db': [0x00], // system-interconnected type: reverse power flow acceptable
	'e4': [SOC_PCT], // remaining stored electricity 3, %
	'e6': [0x01], // battery type: lead
	'eb': u32(0), // charging power setting, W
	'ec': u32(0), // discharging power setting, W
	'f0': u32(0), // DR duration, s (maker code, where drready's default mapping puts it)
};

// What a Set may write, and the EDTs it accepts.
const MODES = [0x42, 0x43, 0x44, 0x46]; // charging, discharging, standby, auto
const SETTABLE = {
	'81': (edt) => edt.length === 1,
	'97': (edt) => edt.length === 2,
	'98': (edt) => edt.length === 4,
	'a7': (edt) => edt.length === 1 && edt[0] <= 100,
	'aa': (edt) => edt.length === 4,
	'ab': (edt) => edt.length === 4,
	'da': (edt) => edt.length === 1 && MODES.includes(edt[0]),
	'eb': (edt) => edt.length === 4,
	'ec': (edt) => edt.length === 4,
	'f0': (edt) => edt.length === 4,
};
const ANNOUNCED = ['80', 'da'];

function propertyMap(codes) {
	const epcs = codes.map((code) => parseInt(code, 16)).sort((a, b) => a - b);
	if (epcs.length < 16) {
		return [epcs.length, ...epcs];
	}
	const bitmap = Array(16).fill(0);
	for (const epc of epcs) {
		bitmap[epc & 0x0f] |= 1 << ((epc >> 4) - 8);
	}
	return [epcs.length, ...bitmap];
}

battery['9d'] = propertyMap(ANNOUNCED);
battery['9e'] = propertyMap(Object.keys(SETTABLE));
battery['9f'] = propertyMap([...new Set([...Object.keys(battery), '9f'])]);
const details = { [BATTERY]: battery };

// -- requests to the battery ------------------------------------------------------------------
function answerSet(rinfo, els) {
	const object = details[els.DEOJ];
	if (!object) {
		return;
	}
	let accepted = true;
	const echoed = [];
	const staged = {};
	for (const epc of Object.keys(els.DETAILs)) {
		const edt = EL.toHexArray(els.DETAILs[epc]);
		const valid = SETTABLE[epc];
		if (valid && valid(edt)) {
			staged[epc] = edt;
			echoed.push(parseInt(epc, 16), 0);
		} else {
			// A refused Set echoes the EDT it did not take (Spec. Part 2, 4.2.3.1).
			accepted = false;
			echoed.push(parseInt(epc, 16), edt.length, ...edt);
		}
	}
	const modeBefore = object.da[0];
	Object.assign(object, staged);
	// Store-only: the working status says what it was told; the power never moves.
	object.cf = [object.da[0]];
	const opc = Object.keys(els.DETAILs).length;
	if (!(els.ESV === EL.SETI && accepted)) {
		const esv = els.ESV === EL.SETI ? 0x50 : accepted ? 0x71 : 0x51;
		const tid = EL.toHexArray(els.TID);
		const frame = [0x10, 0x81, ...tid, ...EL.toHexArray(els.DEOJ), ...EL.toHexArray(els.SEOJ)];
		EL.sendArray(rinfo, [...frame, esv, opc, ...echoed]);
	}
	if (object.da[0] !== modeBefore) {
		EL.sendOPC1(GROUP, [0x02, 0x7d, 0x01], [0x0e, 0xf0, 0x01], EL.INF, 0xda, object.da);
	}
}

function received(rinfo, els, err) {
	if (err) {
		console.error(`device.js: ${err.message || err}`);
		return;
	}
	if (!els || els.DEOJ === undefined || els.DEOJ.substr(0, 4) === '0ef0') {
		return; // the stack answers the node profile itself
	}
	switch (els.ESV) {
		case EL.GET:
			Object.assign(battery, clock());
			EL.replyGetDetail(rinfo, els, details);
			break;
		case EL.SETC:
		case EL.SETI:
			answerSet(rinfo, els);
			break;
		default:
			break;
	}
}

async function main() {
	await EL.initialize([BATTERY], received, 4, {
		v4: HOST,
		ignoreMe: false,
		autoGetProperties: false,
		debugMode: false,
	});
	// The node profile's own figures: ECHONET Lite 1.14, the battery's maker.
	EL.Node_details['82'] = [0x01, 0x0e, 0x01, 0x00];
	EL.Node_details['8a'] = MAKER;
	await Promise.all(listening);
	const version = require('echonet-lite/package.json').version;
	console.log(
		`device.js: ECHONET Lite node on udp://${HOST}:${PORT} ` +
			`(npm echonet-lite ${version}, store-only storage battery 0x027D01)`,
	);
}

function stop() {
	EL.release();
	if (groupSocket) {
		groupSocket.close();
	}
	console.log('device.js: stopped');
	process.exit(0);
}

process.on('SIGINT', stop);
process.on('SIGTERM', stop);
main().catch((err) => fail(err.stack || String(err)));
