// SPDX-License-Identifier: MIT
/*
 * addon.cc — the N-API face of loader.c. It checks argument types and lengths,
 * converts results, and owns the lifecycle: every loader is closed by close(),
 * by garbage collection, or at environment teardown (process exit), whichever
 * comes first. Option validation beyond types lives in TypeScript.
 *
 * Built twice (binding.gyp): flowlens.node, the product, and flowlens_bench.node,
 * the same plus BpfObject (benchmarks load their yardstick programs with it)
 * and FlowIdTable (the drain's flow id table on its own, for tests and
 * benchmarks without a kernel), built with FLOWLENS_BENCH.
 */
#include <napi.h>
#include <cmath>
#include <cstring>
#include <cstddef>
#include <ctime>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include <sys/socket.h>
#include "flow_ids.h"
#include "links.h"
#include "neighbours.h"
#include "loader.h"

namespace {

std::string ErrCode(int rc)
{
	switch (-rc) {
	case EPERM:
		return "FLOW_ERR_PERMISSION";
	case EEXIST:
		return "FLOW_ERR_ALREADY_ATTACHED";
	case EBUSY:
		return "FLOW_ERR_XDP_BUSY";
	case ENOENT:
		return "FLOW_ERR_NOT_ATTACHED";
	case EOPNOTSUPP:
		return "FLOW_ERR_UNSUPPORTED";
	default:
		return "FLOW_ERR_KERNEL";
	}
}

Napi::Error KernelError(Napi::Env env, int rc, const char *msg)
{
	Napi::Error e = Napi::Error::New(env, msg);
	e.Set("code", ErrCode(rc));
	e.Set("errno", Napi::Number::New(env, -rc));
	return e;
}

#define REQUIRE(cond, msg)                                                                         \
	do {                                                                                       \
		if (!(cond))                                                                        \
			throw Napi::TypeError::New(env, msg);                                      \
	} while (0)

// A whole number in [lo, hi]: Int32Value() and Uint32Value() would quietly
// turn 1.5 into 1, -1 into 4294967295 and 2^32 into 0.
bool IsInteger(const Napi::Value &v, double lo, double hi)
{
	if (!v.IsNumber())
		return false;
	double d = v.As<Napi::Number>().DoubleValue();
	return std::isfinite(d) && std::floor(d) == d && d >= lo && d <= hi;
}

// Marks Collector objects, so that an accessor called on another wrapped object
// (a BpfObject) throws instead of reading it as a Collector.
const napi_type_tag kCollectorTag = { 0x8c3f6a1e5b2d4c07ULL, 0x9e1b7d3a2f4c6e58ULL };

class Collector;

// The captures ring buffer's size when the caller does not say: 1 MiB, ~1800 captures.
constexpr uint32_t kDefaultCaptureRingBytes = 1u << 20;

// Every live loader of this environment, closed at teardown.
struct AddonData {
	std::set<Collector *> live;
};

class Collector : public Napi::ObjectWrap<Collector> {
public:
	static Napi::Function Init(Napi::Env env)
	{
		return DefineClass(env, "Collector",
				   {
					   InstanceMethod<&Collector::Attach>("attach"),
					   InstanceMethod<&Collector::Detach>("detach"),
					   InstanceMethod<&Collector::Drain>("drain"),
					   InstanceMethod<&Collector::Errors>("errors"),
					   InstanceMethod<&Collector::CaptureErrors>("captureErrors"),
					   InstanceMethod<&Collector::TestRun>("testRun"),
					   InstanceMethod<&Collector::RunFrames>("runFrames"),
					   InstanceMethod<&Collector::SetFlowIdLimit>("setFlowIdLimit"),
					   InstanceMethod<&Collector::SetOwnAddresses>("setOwnAddresses"),
					   InstanceMethod<&Collector::SetRoleIfindex>("setRoleIfindex"),
					   InstanceMethod<&Collector::ReleaseFlowIds>("releaseFlowIds"),
					   InstanceMethod<&Collector::StartPacketCapture>("startPacketCapture"),
					   InstanceMethod<&Collector::StopPacketCapture>("stopPacketCapture"),
					   InstanceMethod<&Collector::ReadPackets>("readPackets"),
					   InstanceMethod<&Collector::PacketCaptureCounters>("packetCaptureCounters"),
					   InstanceMethod<&Collector::Close>("close"),
					   InstanceAccessor<&Collector::MapEntries>("mapEntries"),
					   InstanceAccessor<&Collector::BufferSize>("bufferSize"),
				   });
	}

	Collector(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Collector>(info)
	{
		Napi::Env env = info.Env();
		char err[FL_ERR_LEN] = "";

		const char *usage = "new Collector(mapEntries: number, captureRingBytes?: number, roles?: Uint32Array, packetRingBytes?: number)";
		REQUIRE(info.Length() >= 1 && info.Length() <= 4 && info[0].IsNumber() &&
				(info.Length() < 2 || info[1].IsNumber() || info[1].IsUndefined()) &&
				(info.Length() < 3 || info[2].IsUndefined() ||
				 (info[2].IsTypedArray() &&
				  info[2].As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array)) &&
				(info.Length() < 4 || info[3].IsNumber() || info[3].IsUndefined()),
			usage);
		REQUIRE(IsInteger(info[0], 1, UINT32_MAX), "mapEntries must be an integer from 1 to 4294967295");
		uint32_t entries = info[0].As<Napi::Number>().Uint32Value();
		uint32_t ring = kDefaultCaptureRingBytes;
		if (info.Length() >= 2 && info[1].IsNumber()) {
			// fl_open checks the power of two; here only the type and range
			REQUIRE(IsInteger(info[1], 0, 1u << 30), "captureRingBytes must be an integer from 0 to 1073741824");
			ring = info[1].As<Napi::Number>().Uint32Value();
		}
		// packet captures: off unless asked for (fl_open checks the power of two)
		uint32_t pcap_ring = 0;
		if (info.Length() >= 4 && info[3].IsNumber()) {
			REQUIRE(IsInteger(info[3], 0, 1u << 30), "packetRingBytes must be an integer from 0 to 1073741824");
			pcap_ring = info[3].As<Napi::Number>().Uint32Value();
		}
		// roles: (ifindex, enum flow_role) pairs
		fl_roles roles = {};
		if (info.Length() >= 3 && info[2].IsTypedArray()) {
			Napi::Uint32Array pairs = info[2].As<Napi::Uint32Array>();
			REQUIRE(pairs.ElementLength() % 2 == 0 && pairs.ElementLength() / 2 <= FLOW_ROLE_SLOTS,
				"roles must hold (ifindex, role) pairs, at most 16");
			roles.count = (uint32_t)pairs.ElementLength() / 2;
			for (uint32_t i = 0; i < roles.count; i++) {
				REQUIRE(pairs[2 * i + 1] <= FLOW_ROLE_WAN, "a role must be 0 (none), 1 (lan) or 2 (wan)");
				roles.ifindex[i] = pairs[2 * i];
				roles.role[i] = (uint8_t)pairs[2 * i + 1];
			}
		}
		int rc = fl_open(entries, ring, pcap_ring, &roles, &loader_, err);
		if (rc)
			throw KernelError(env, rc, err);
		env.GetInstanceData<AddonData>()->live.insert(this);
		info.This().As<Napi::Object>().TypeTag(&kCollectorTag);
	}

	~Collector() { Release(); }

	// Closes the loader now, or when a running drain finishes.
	void Release()
	{
		if (!loader_)
			return;
		if (draining_) {
			close_pending_ = true;
			return;
		}
		fl_close(loader_);
		loader_ = nullptr;
		flow_ids_free(flow_ids_);
		flow_ids_ = nullptr;
		AddonData *data = Env().GetInstanceData<AddonData>();
		if (data)
			data->live.erase(this);
	}

	void DrainFinished()
	{
		draining_ = false;
		if (close_pending_)
			Release();
	}

	fl_loader *loader_ = nullptr;
	bool draining_ = false;
	bool close_pending_ = false;
	// Flow ids (flow_ids.h): the table is used only by the drain's worker, the
	// limit and the pending releases only here on the JS thread; Drain() hands
	// both to the worker.
	flow_ids *flow_ids_ = nullptr;
	uint32_t flow_id_limit_ = 0;            // 0: no ids
	std::vector<uint32_t> pending_releases_;

private:
	fl_loader *Open(Napi::Env env)
	{
		if (!loader_ || close_pending_) {
			Napi::Error e = Napi::Error::New(env, "the collector is closed");
			e.Set("code", "FLOW_ERR_CLOSED");
			throw e;
		}
		return loader_;
	}

	Napi::Value Attach(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 3 && info[0].IsNumber() && info[1].IsString() && info[2].IsString(),
			"attach(ifindex: number, hook: 'xdp' | 'tc', xdpMode: 'auto' | 'native' | 'generic')");
		REQUIRE(IsInteger(info[0], 1, INT32_MAX), "ifindex must be a positive integer");
		int ifindex = info[0].As<Napi::Number>().Int32Value();
		std::string hook = info[1].As<Napi::String>();
		std::string mode = info[2].As<Napi::String>();
		REQUIRE(hook == "xdp" || hook == "tc", "hook must be 'xdp' or 'tc'");
		REQUIRE(mode == "auto" || mode == "native" || mode == "generic",
			"xdpMode must be 'auto', 'native' or 'generic'");
		fl_loader *l = Open(env);
		fl_attach_info ai;
		char err[FL_ERR_LEN] = "";
		int rc = fl_attach(l, ifindex, hook == "xdp" ? FL_HOOK_XDP : FL_HOOK_TC,
				   mode == "native" ? FL_XDP_NATIVE : mode == "generic" ? FL_XDP_GENERIC : FL_XDP_AUTO,
				   &ai, err);
		if (rc)
			throw KernelError(env, rc, err);
		Napi::Object o = Napi::Object::New(env);
		o.Set("ingress", ai.ingress);
		o.Set("egress", ai.egress);
		return o;
	}

	Napi::Value Detach(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 1 && info[0].IsNumber(), "detach(ifindex: number)");
		// a negative ifindex would pass fl_detach's not-attached check silently
		REQUIRE(IsInteger(info[0], 1, INT32_MAX), "ifindex must be a positive integer");
		char err[FL_ERR_LEN] = "";
		int rc = fl_detach(Open(env), info[0].As<Napi::Number>().Int32Value(), err);
		if (rc)
			throw KernelError(env, rc, err);
		return env.Undefined();
	}

	Napi::Value Drain(const Napi::CallbackInfo &info);

	Napi::Value Errors(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		uint64_t v[FLOW_ERR__COUNT];
		char err[FL_ERR_LEN] = "";
		int rc = fl_read_errors(Open(env), v, err);
		if (rc)
			throw KernelError(env, rc, err);
		Napi::Array a = Napi::Array::New(env, FLOW_ERR__COUNT);
		for (uint32_t i = 0; i < FLOW_ERR__COUNT; i++)
			a.Set(i, Napi::Number::New(env, (double)v[i]));
		return a;
	}

	Napi::Value CaptureErrors(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		uint64_t v[CAPTURE_ERR__COUNT];
		char err[FL_ERR_LEN] = "";
		int rc = fl_read_capture_errors(Open(env), v, err);
		if (rc)
			throw KernelError(env, rc, err);
		Napi::Array a = Napi::Array::New(env, CAPTURE_ERR__COUNT);
		for (uint32_t i = 0; i < CAPTURE_ERR__COUNT; i++)
			a.Set(i, Napi::Number::New(env, (double)v[i]));
		return a;
	}

	Napi::Value TestRun(const Napi::CallbackInfo &info);
	Napi::Value RunFrames(const Napi::CallbackInfo &info);

	// From the next drain on, gives drained flows ids while fewer than `limit`
	// are live; 0 turns ids off and forgets them all.
	Napi::Value SetFlowIdLimit(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 1 && IsInteger(info[0], 0, FLOW_IDS_MAX_LIMIT),
			"setFlowIdLimit(limit: integer from 0 to 268435456)");
		Open(env);
		flow_id_limit_ = info[0].As<Napi::Number>().Uint32Value();
		return env.Undefined();
	}

	// Replaces the gateway's own addresses (struct own_addr entries, packed).
	Napi::Value SetOwnAddresses(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 1 && info[0].IsBuffer() &&
				info[0].As<Napi::Buffer<uint8_t>>().Length() % sizeof(struct own_addr) == 0,
			"setOwnAddresses(addrs: Buffer of 20-byte own_addr entries)");
		fl_loader *l = Open(env);
		Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
		std::vector<struct own_addr> addrs(b.Length() / sizeof(struct own_addr));
		if (!addrs.empty())
			memcpy(addrs.data(), b.Data(), b.Length());
		char err[FL_ERR_LEN] = "";
		int rc = fl_set_own_addrs(l, addrs.data(), (uint32_t)addrs.size(), err);
		if (rc)
			throw KernelError(env, rc, err);
		return env.Undefined();
	}

	// A role's interface was re-created: its slot (the order of the roles given at open) gets the new ifindex.
	Napi::Value SetRoleIfindex(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 2 && info[0].IsNumber() && info[1].IsNumber(),
			"setRoleIfindex(slot: number, ifindex: number)");
		fl_loader *l = Open(env);
		char err[FL_ERR_LEN] = "";
		int rc = fl_set_role_ifindex(l, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(), err);
		if (rc)
			throw KernelError(env, rc, err);
		return env.Undefined();
	}

	// Queues ids for release at the start of the next drain (O(ids) there).
	Napi::Value ReleaseFlowIds(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 1 && info[0].IsTypedArray() &&
				info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array,
			"releaseFlowIds(ids: Uint32Array)");
		Open(env);
		Napi::Uint32Array ids = info[0].As<Napi::Uint32Array>();
		if (flow_id_limit_)
			pending_releases_.insert(pending_releases_.end(), ids.Data(), ids.Data() + ids.ElementLength());
		return env.Undefined();
	}

	// Packet captures: a filter (struct pcap_filter bytes) into an idle slot.
	Napi::Value StartPacketCapture(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 2 && IsInteger(info[0], 0, PCAP_SLOTS - 1) && info[1].IsBuffer() &&
				info[1].As<Napi::Buffer<uint8_t>>().Length() == sizeof(struct pcap_filter),
			"startPacketCapture(slot: 0..3, filter: Buffer of a struct pcap_filter)");
		fl_loader *l = Open(env);
		struct pcap_filter f;
		memcpy(&f, info[1].As<Napi::Buffer<uint8_t>>().Data(), sizeof(f));
		char err[FL_ERR_LEN] = "";
		int rc = fl_pcap_start(l, info[0].As<Napi::Number>().Uint32Value(), &f, err);
		if (rc)
			throw KernelError(env, rc, err);
		return env.Undefined();
	}

	// Turns a slot off; returns after a grace period (a few ms): its frames are all in the ring then.
	Napi::Value StopPacketCapture(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 1 && IsInteger(info[0], 0, PCAP_SLOTS - 1), "stopPacketCapture(slot: 0..3)");
		char err[FL_ERR_LEN] = "";
		int rc = fl_pcap_stop(Open(env), info[0].As<Napi::Number>().Uint32Value(), err);
		if (rc)
			throw KernelError(env, rc, err);
		return env.Undefined();
	}

	// Copies waiting records into the buffer: { records, bytes }.
	Napi::Value ReadPackets(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 1 && info[0].IsBuffer(), "readPackets(buffer: Buffer)");
		Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
		uint32_t records = 0;
		size_t used = 0;
		char err[FL_ERR_LEN] = "";
		int rc = fl_pcap_read(Open(env), b.Data(), b.Length(), &records, &used, err);
		if (rc)
			throw KernelError(env, rc, err);
		Napi::Object o = Napi::Object::New(env);
		o.Set("records", records);
		o.Set("bytes", (double)used);
		return o;
	}

	Napi::Value PacketCaptureCounters(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 1 && IsInteger(info[0], 0, PCAP_SLOTS - 1), "packetCaptureCounters(slot: 0..3)");
		struct pcap_counters c;
		char err[FL_ERR_LEN] = "";
		int rc = fl_pcap_counters(Open(env), info[0].As<Napi::Number>().Uint32Value(), &c, err);
		if (rc)
			throw KernelError(env, rc, err);
		Napi::Object o = Napi::Object::New(env);
		o.Set("matched", (double)c.matched);
		o.Set("dropped", (double)c.dropped);
		return o;
	}

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Release();
		return info.Env().Undefined();
	}

	// V8 checks the receiver of methods ("Illegal invocation"), not of accessors:
	// called on a BpfObject, Unwrap would hand us that object as a Collector.
	static void RequireCollector(const Napi::CallbackInfo &info)
	{
		Napi::Value self = info.This();
		if (!self.IsObject() || !self.As<Napi::Object>().CheckTypeTag(&kCollectorTag))
			throw Napi::TypeError::New(info.Env(), "Illegal invocation: not a Collector");
	}

	Napi::Value MapEntries(const Napi::CallbackInfo &info)
	{
		RequireCollector(info);
		return Napi::Number::New(info.Env(), fl_map_entries(Open(info.Env())));
	}

	Napi::Value BufferSize(const Napi::CallbackInfo &info)
	{
		RequireCollector(info);
		return Napi::Number::New(info.Env(), (double)fl_buffer_size(Open(info.Env())));
	}
};

// Drains on a libuv worker thread: the event loop never waits for the kernel.
class DrainWorker : public Napi::AsyncWorker {
public:
	DrainWorker(Napi::Env env, Collector *c, Napi::Buffer<uint8_t> buf)
		: Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), c_(c),
		  data_(buf.Data()), len_(buf.Length()), captures_offset_(fl_captures_offset(c->loader_)),
		  id_limit_(c->flow_id_limit_), releases_(std::move(c->pending_releases_))
	{
		c->pending_releases_.clear();
		buf_ref_ = Napi::Persistent(buf);
		self_ref_ = Napi::Persistent(c->Value());
	}

	Napi::Promise Promise() { return deferred_.Promise(); }

	void Execute() override
	{
		uint64_t ids_ns = ApplyReleases();
		rc_ = fl_drain(c_->loader_, data_, len_, &res_, err_);
		if (rc_) {
			SetError(err_);
			return;
		}
		ids_ns += AssignFlowIds();
		flow_ids_ns_ = ids_ns;
	}

	// Before the drain: released ids are free for this drain's new keys.
	uint64_t ApplyReleases()
	{
		struct timespec t0, t1;
		if (!id_limit_) {
			flow_ids_free(c_->flow_ids_);
			c_->flow_ids_ = nullptr;
			return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (!c_->flow_ids_) {
			c_->flow_ids_ = flow_ids_new(); // out of memory: no ids this drain
		} else {
			flow_ids_release(c_->flow_ids_, releases_.data(), releases_.size());
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		return Ns(t0, t1);
	}

	// After the drain (and its merge of claim-race copies): the records' ids.
	uint64_t AssignFlowIds()
	{
		struct timespec t0, t1;
		if (!c_->flow_ids_)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		auto *flows = reinterpret_cast<flow_record *>(data_ + FLOW_IFACE_MAX_ENTRIES * sizeof(struct iface_record));
		ids_refused_ = flow_ids_assign(c_->flow_ids_, flows, res_.flows, id_limit_);
		flow_ids_stats st;
		flow_ids_read_stats(c_->flow_ids_, &st);
		ids_live_ = st.live;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		return Ns(t0, t1);
	}

	static uint64_t Ns(const struct timespec &a, const struct timespec &b)
	{
		return (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
	}

	// When the environment is being torn down (a worker thread ending with a
	// drain in flight), the completion runs where JavaScript cannot: settling the
	// promise fails, and the Napi::Error that failure raises would escape the
	// libuv callback and abort the whole process. Nobody can await the promise
	// then, so the failure is dropped.
	void OnOK() override
	{
		c_->DrainFinished();
		try {
			Napi::Env env = Env();
			Napi::Object o = Napi::Object::New(env);
			o.Set("ifaces", res_.ifaces);
			o.Set("flows", res_.flows);
			o.Set("flowsOffset", (double)(FLOW_IFACE_MAX_ENTRIES * sizeof(struct iface_record)));
			o.Set("captures", res_.captures);
			o.Set("capturesOffset", (double)captures_offset_);
			o.Set("graceNs", (double)res_.grace_ns);
			o.Set("drainNs", (double)res_.drain_ns);
			o.Set("monoNs", (double)res_.mono_ns);
			o.Set("flowIds", ids_live_);
			o.Set("flowIdsRefused", ids_refused_);
			o.Set("flowIdsNs", (double)flow_ids_ns_);
			deferred_.Resolve(o);
		} catch (const Napi::Error &) {
		}
	}

	void OnError(const Napi::Error &) override
	{
		c_->DrainFinished();
		try {
			deferred_.Reject(KernelError(Env(), rc_, err_).Value());
		} catch (const Napi::Error &) {
		}
	}

private:
	Napi::Promise::Deferred deferred_;
	Collector *c_;
	uint8_t *data_;
	size_t len_;
	size_t captures_offset_;
	Napi::Reference<Napi::Buffer<uint8_t>> buf_ref_;
	Napi::ObjectReference self_ref_;
	fl_drain_result res_{};
	uint32_t id_limit_;
	std::vector<uint32_t> releases_;
	uint32_t ids_live_ = 0;     // live ids after this drain
	uint32_t ids_refused_ = 0;  // records left without an id (limit or memory)
	uint64_t flow_ids_ns_ = 0;  // worker time spent on ids
	int rc_ = 0;
	char err_[FL_ERR_LEN] = "";
};

Napi::Value Collector::Drain(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	REQUIRE(info.Length() == 1 && info[0].IsBuffer(), "drain(buffer: Buffer)");
	Napi::Buffer<uint8_t> buf = info[0].As<Napi::Buffer<uint8_t>>();
	fl_loader *l = Open(env);
	if (buf.Length() < fl_buffer_size(l)) {
		Napi::RangeError e = Napi::RangeError::New(
			env, "drain buffer too small: " + std::to_string(buf.Length()) + " bytes, need " +
				     std::to_string(fl_buffer_size(l)) + " (use bufferSize)");
		throw e;
	}
	if (draining_) {
		Napi::Error e = Napi::Error::New(env, "a drain is already running; await it first");
		e.Set("code", "FLOW_ERR_DRAIN_BUSY");
		throw e;
	}
	draining_ = true;
	DrainWorker *w = new DrainWorker(env, this, buf);
	Napi::Promise p = w->Promise();
	w->Queue();
	return p;
}

// Shared by Collector.testRun and BpfObject.testRun.
Napi::Value RunTest(const Napi::CallbackInfo &info, int prog_fd, const std::string &name)
{
	Napi::Env env = info.Env();
	if (prog_fd < 0)
		throw Napi::Error::New(env, "no BPF program named '" + name + "'");
	Napi::Buffer<uint8_t> data = info[1].As<Napi::Buffer<uint8_t>>();
	int repeat = 1;
	uint32_t gso_segs = 0, gso_size = 0;
	if (info.Length() > 2 && info[2].IsObject()) {
		Napi::Object o = info[2].As<Napi::Object>();
		// the kernel takes repeat as u32: -1 would run the program 4 billion times
		if (o.Has("repeat")) {
			REQUIRE(IsInteger(o.Get("repeat"), 1, 1e9), "repeat must be an integer from 1 to 1000000000");
			repeat = o.Get("repeat").As<Napi::Number>().Int32Value();
		}
		if (o.Has("gsoSegs")) {
			REQUIRE(IsInteger(o.Get("gsoSegs"), 0, 65535), "gsoSegs must be an integer from 0 to 65535");
			gso_segs = o.Get("gsoSegs").As<Napi::Number>().Uint32Value();
		}
		if (o.Has("gsoSize")) {
			REQUIRE(IsInteger(o.Get("gsoSize"), 0, 65535), "gsoSize must be an integer from 0 to 65535");
			gso_size = o.Get("gsoSize").As<Napi::Number>().Uint32Value();
		}
	}
	uint32_t retval = 0, duration = 0;
	char err[FL_ERR_LEN] = "";
	int rc = fl_test_run(prog_fd, data.Data(), (uint32_t)data.Length(), repeat, gso_segs, gso_size,
			     &retval, &duration, err);
	if (rc)
		throw KernelError(env, rc, err);
	Napi::Object r = Napi::Object::New(env);
	r.Set("retval", retval);
	r.Set("durationNs", duration);
	return r;
}

#define TEST_RUN_USAGE "testRun(program: string, packet: Buffer, options?: { repeat, gsoSegs, gsoSize })"

Napi::Value Collector::TestRun(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	REQUIRE(info.Length() >= 2 && info[0].IsString() && info[1].IsBuffer(), TEST_RUN_USAGE);
	std::string name = info[0].As<Napi::String>();
	return RunTest(info, fl_prog_fd(Open(env), name.c_str()), name);
}

// Link events (links.h): new LinkWatch() subscribes, read() returns what the
// kernel queued since the last read, without blocking; close() unsubscribes
// (so does garbage collection).
class LinkWatch : public Napi::ObjectWrap<LinkWatch> {
public:
	static Napi::Function Init(Napi::Env env)
	{
		return DefineClass(env, "LinkWatch",
				   { InstanceMethod<&LinkWatch::Read>("read"),
				     InstanceMethod<&LinkWatch::Close>("close") });
	}

	LinkWatch(const Napi::CallbackInfo &info) : Napi::ObjectWrap<LinkWatch>(info)
	{
		fd_ = fl_links_open();
		if (fd_ < 0)
			throw KernelError(info.Env(), fd_, "cannot listen to link events (rtnetlink)");
	}

	~LinkWatch() { fl_links_close(fd_); }

private:
	static constexpr int kMaxEvents = 4096;

	Napi::Value Read(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (fd_ < 0)
			throw Napi::Error::New(env, "the link watch is closed");
		std::vector<fl_link_event> ev(kMaxEvents);
		int overflow = 0;
		int n = fl_links_read(fd_, ev.data(), kMaxEvents, &overflow);
		if (n < 0)
			throw KernelError(env, n, "cannot read link events");
		Napi::Array a = Napi::Array::New(env, n);
		for (int i = 0; i < n; i++) {
			Napi::Object o = Napi::Object::New(env);
			o.Set("type", ev[i].type == FL_LINK_NEW ? "new" : "del");
			o.Set("ifindex", ev[i].ifindex);
			o.Set("name", ev[i].name);
			a.Set(i, o);
		}
		Napi::Object r = Napi::Object::New(env);
		r.Set("events", a);
		r.Set("overflow", Napi::Boolean::New(env, overflow));
		return r;
	}

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		fl_links_close(fd_);
		fd_ = -1;
		return info.Env().Undefined();
	}

	int fd_ = -1;
};

// Runs a buffer of frames through one program on a libuv worker thread
// (flowlens analyze): the per-frame cost is one system call, not a JS call.
// Uses the drain's busy flag, so close() waits for it and no drain overlaps it.
class FramesWorker : public Napi::AsyncWorker {
public:
	FramesWorker(Napi::Env env, Collector *c, std::vector<int> prog_fds, Napi::Buffer<uint8_t> frames, uint32_t count,
		     Napi::Float64Array marks, uint64_t last_mark_ns, uint64_t step_ns)
		: Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), c_(c), prog_fds_(std::move(prog_fds)),
		  data_(frames.Data()), len_(frames.Length()), count_(count), last_mark_ns_(last_mark_ns),
		  step_ns_(step_ns), out_(marks.Data()), max_marks_((uint32_t)(marks.ElementLength() / 2))
	{
		frames_ref_ = Napi::Persistent(frames);
		marks_ref_ = Napi::Persistent(marks);
		self_ref_ = Napi::Persistent(c->Value());
	}

	Napi::Promise Promise() { return deferred_.Promise(); }

	void Execute() override
	{
		marks_.resize(max_marks_);
		rc_ = fl_run_frames(prog_fds_.data(), (uint32_t)prog_fds_.size(), data_, len_, count_, last_mark_ns_, step_ns_, marks_.data(), max_marks_,
				    &res_, err_);
		if (rc_)
			SetError(err_);
	}

	// As DrainWorker: settling fails quietly when the environment is going away.
	void OnOK() override
	{
		c_->DrainFinished();
		try {
			// doubles: monotonic ns and ns after the caller's origin stay far below 2^53
			for (uint32_t i = 0; i < res_.marks; i++) {
				out_[2 * i] = (double)marks_[i].mono_ns;
				out_[2 * i + 1] = (double)marks_[i].time_ns;
			}
			Napi::Env env = Env();
			Napi::Object o = Napi::Object::New(env);
			o.Set("ran", res_.ran);
			o.Set("refused", res_.refused);
			o.Set("fallbacks", res_.fallbacks);
			o.Set("refusedBytes", (double)res_.refused_bytes);
			o.Set("marks", res_.marks);
			o.Set("lastMarkNs", (double)res_.last_mark_ns);
			o.Set("runNs", (double)res_.run_ns);
			deferred_.Resolve(o);
		} catch (const Napi::Error &) {
		}
	}

	void OnError(const Napi::Error &) override
	{
		c_->DrainFinished();
		try {
			deferred_.Reject(KernelError(Env(), rc_, err_).Value());
		} catch (const Napi::Error &) {
		}
	}

private:
	Napi::Promise::Deferred deferred_;
	Collector *c_;
	std::vector<int> prog_fds_;
	const uint8_t *data_;
	size_t len_;
	uint32_t count_;
	uint64_t last_mark_ns_, step_ns_;
	double *out_;
	uint32_t max_marks_;
	std::vector<fl_time_mark> marks_;
	Napi::Reference<Napi::Buffer<uint8_t>> frames_ref_;
	Napi::Reference<Napi::Float64Array> marks_ref_;
	Napi::ObjectReference self_ref_;
	fl_frames_result res_{};
	int rc_ = 0;
	char err_[FL_ERR_LEN] = "";
};

#define RUN_FRAMES_USAGE                                                                                    \
	"runFrames(programs: string[], frames: Buffer, count: number, marks: Float64Array, lastMarkNs: number, " \
	"stepNs: number)"

Napi::Value Collector::RunFrames(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	REQUIRE(info.Length() == 6 && info[0].IsArray() && info[1].IsBuffer() && IsInteger(info[2], 0, UINT32_MAX) &&
			info[3].IsTypedArray() &&
			info[3].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array &&
			IsInteger(info[4], 0, 9007199254740991.0) && IsInteger(info[5], 0, 9007199254740991.0),
		RUN_FRAMES_USAGE);
	Napi::Array names = info[0].As<Napi::Array>();
	REQUIRE(names.Length() >= 1 && names.Length() <= 8, "programs: 1 to 8 program names");
	std::vector<int> fds;
	for (uint32_t i = 0; i < names.Length(); i++) {
		REQUIRE(names.Get(i).IsString(), "programs: 1 to 8 program names");
		std::string name = names.Get(i).As<Napi::String>();
		int fd = fl_prog_fd(Open(env), name.c_str());
		if (fd < 0)
			throw Napi::Error::New(env, "no BPF program named '" + name + "'");
		fds.push_back(fd);
	}
	if (draining_) {
		Napi::Error e = Napi::Error::New(env, "a drain or a run is already running; await it first");
		e.Set("code", "FLOW_ERR_DRAIN_BUSY");
		throw e;
	}
	draining_ = true;
	FramesWorker *w = new FramesWorker(env, this, std::move(fds), info[1].As<Napi::Buffer<uint8_t>>(),
					   info[2].As<Napi::Number>().Uint32Value(), info[3].As<Napi::Float64Array>(),
					   (uint64_t)info[4].As<Napi::Number>().DoubleValue(),
					   (uint64_t)info[5].As<Napi::Number>().DoubleValue());
	Napi::Promise p = w->Promise();
	w->Queue();
	return p;
}

#ifdef FLOWLENS_BENCH
// A BPF object file loaded as is: the benchmarks' yardstick programs.
class BpfObject : public Napi::ObjectWrap<BpfObject> {
public:
	static Napi::Function Init(Napi::Env env)
	{
		return DefineClass(env, "BpfObject",
				   { InstanceMethod<&BpfObject::TestRun>("testRun"),
				     InstanceMethod<&BpfObject::BatchDrain>("batchDrain"),
				     InstanceMethod<&BpfObject::Close>("close") });
	}

	BpfObject(const Napi::CallbackInfo &info) : Napi::ObjectWrap<BpfObject>(info)
	{
		Napi::Env env = info.Env();
		char err[FL_ERR_LEN] = "";
		REQUIRE(info.Length() == 1 && info[0].IsString(), "new BpfObject(path: string)");
		std::string path = info[0].As<Napi::String>();
		int rc = fl_object_open(path.c_str(), &obj_, err);
		if (rc) {
			// not KernelError: its ENOENT means "not attached", here it means no such file
			Napi::Error e = Napi::Error::New(env, err);
			e.Set("code", "FLOW_ERR_OBJECT");
			e.Set("errno", Napi::Number::New(env, -rc));
			throw e;
		}
	}

	~BpfObject() { fl_object_close(obj_); }

private:
	Napi::Value TestRun(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() >= 2 && info[0].IsString() && info[1].IsBuffer(), TEST_RUN_USAGE);
		if (!obj_)
			throw Napi::Error::New(env, "the object is closed");
		std::string name = info[0].As<Napi::String>();
		return RunTest(info, fl_object_prog_fd(obj_, name.c_str()), name);
	}

	Napi::Value BatchDrain(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 1 && info[0].IsString(), "batchDrain(map: string)");
		if (!obj_)
			throw Napi::Error::New(env, "the object is closed");
		std::string name = info[0].As<Napi::String>();
		uint32_t entries = 0;
		uint64_t ns = 0;
		char err[FL_ERR_LEN] = "";
		int rc = fl_object_batch_drain(obj_, name.c_str(), &entries, &ns, err);
		if (rc)
			throw KernelError(env, rc, err);
		Napi::Object r = Napi::Object::New(env);
		r.Set("entries", entries);
		r.Set("ns", (double)ns);
		return r;
	}

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		fl_object_close(obj_);
		obj_ = nullptr;
		return info.Env().Undefined();
	}

	fl_object *obj_ = nullptr;
};
#endif

#ifdef FLOWLENS_BENCH
// The flow id table on its own, driven from JavaScript over a buffer of
// flow_records: the same code the drain runs, testable and measurable without
// a kernel. Synchronous.
class FlowIdTable : public Napi::ObjectWrap<FlowIdTable> {
public:
	static Napi::Function Init(Napi::Env env)
	{
		return DefineClass(env, "FlowIdTable",
				   { InstanceMethod<&FlowIdTable::Assign>("assign"),
				     InstanceMethod<&FlowIdTable::Release>("release"),
				     InstanceMethod<&FlowIdTable::Stats>("stats") });
	}

	FlowIdTable(const Napi::CallbackInfo &info) : Napi::ObjectWrap<FlowIdTable>(info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() <= 1 && (info.Length() == 0 || info[0].IsUndefined() ||
					       IsInteger(info[0], 1, FLOW_IDS_MAX_LIMIT)),
			"new FlowIdTable(limit?: integer from 1 to 268435456)");
		if (info.Length() == 1 && info[0].IsNumber())
			limit_ = info[0].As<Napi::Number>().Uint32Value();
		t_ = flow_ids_new();
		if (!t_)
			throw Napi::Error::New(env, "out of memory");
	}

	~FlowIdTable() { flow_ids_free(t_); }

private:
	Napi::Value Assign(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 3 && info[0].IsBuffer() && IsInteger(info[1], 0, 1e15) &&
				IsInteger(info[2], 0, UINT32_MAX),
			"assign(records: Buffer, offset: number, count: number)");
		Napi::Buffer<uint8_t> buf = info[0].As<Napi::Buffer<uint8_t>>();
		double offset = info[1].As<Napi::Number>().DoubleValue();
		uint32_t count = info[2].As<Napi::Number>().Uint32Value();
		if (offset + (double)count * sizeof(struct flow_record) > (double)buf.Length())
			throw Napi::RangeError::New(env, "the records run past the end of the buffer");
		uint8_t *at = buf.Data() + (size_t)offset;
		if ((uintptr_t)at % alignof(struct flow_record))
			throw Napi::RangeError::New(env, "the records must start at an 8-byte aligned address");
		uint32_t refused = flow_ids_assign(t_, reinterpret_cast<flow_record *>(at), count, limit_);
		return Napi::Number::New(env, refused);
	}

	Napi::Value Release(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		REQUIRE(info.Length() == 1 && info[0].IsTypedArray() &&
				info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array,
			"release(ids: Uint32Array)");
		Napi::Uint32Array ids = info[0].As<Napi::Uint32Array>();
		return Napi::Number::New(env, flow_ids_release(t_, ids.Data(), ids.ElementLength()));
	}

	Napi::Value Stats(const Napi::CallbackInfo &info)
	{
		flow_ids_stats st;
		flow_ids_read_stats(t_, &st);
		Napi::Object o = Napi::Object::New(info.Env());
		o.Set("live", st.live);
		o.Set("released", st.released);
		o.Set("capacity", st.capacity);
		return o;
	}

	flow_ids *t_ = nullptr;
	uint32_t limit_ = FLOW_IDS_MAX_LIMIT;
};

#endif

Napi::Value XdpSupport(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	REQUIRE(info.Length() == 1 && info[0].IsNumber(), "xdpSupport(ifindex: number)");
	struct fl_xdp_support s;
	int rc = fl_xdp_support(info[0].As<Napi::Number>().Int32Value(), &s);
	if (rc)
		throw KernelError(env, rc, "cannot query XDP support");
	Napi::Object o = Napi::Object::New(env);
	o.Set("native", Napi::Boolean::New(env, s.native));
	o.Set("progId", s.prog_id);
	return o;
}

// sizeof/offsetof of every shared struct, as the compiler that built the addon sees them.
Napi::Object Layout(Napi::Env env)
{
	Napi::Object l = Napi::Object::New(env);
#define STRUCT(name) { Napi::Object s = Napi::Object::New(env); s.Set("size", sizeof(struct name)); \
	Napi::Object f = Napi::Object::New(env); s.Set("fields", f); l.Set(#name, s);
#define FIELD(sname, field) f.Set(#field, offsetof(struct sname, field));
#define END s.Freeze(); f.Freeze(); }
	STRUCT(flow_key)
	FIELD(flow_key, ifindex) FIELD(flow_key, direction) FIELD(flow_key, ip_version)
	FIELD(flow_key, protocol) FIELD(flow_key, pad0) FIELD(flow_key, src_addr)
	FIELD(flow_key, dst_addr) FIELD(flow_key, src_port) FIELD(flow_key, dst_port)
	FIELD(flow_key, pad1) END
	STRUCT(flow_counters)
	FIELD(flow_counters, packets) FIELD(flow_counters, bytes) FIELD(flow_counters, first_seen_ns)
	FIELD(flow_counters, last_seen_ns) FIELD(flow_counters, tcp_flags) FIELD(flow_counters, slot_state)
	FIELD(flow_counters, flow_id) END
	STRUCT(flow_record) FIELD(flow_record, key) FIELD(flow_record, counters) END
	STRUCT(iface_key)
	FIELD(iface_key, ifindex) FIELD(iface_key, direction) FIELD(iface_key, epoch)
	FIELD(iface_key, pad0) END
	STRUCT(iface_counters)
	FIELD(iface_counters, ip_packets) FIELD(iface_counters, ip_bytes) FIELD(iface_counters, flows)
	FIELD(iface_counters, overflow_packets) FIELD(iface_counters, overflow_bytes)
	FIELD(iface_counters, non_ip_packets) FIELD(iface_counters, non_ip_bytes)
	FIELD(iface_counters, malformed_packets) FIELD(iface_counters, malformed_bytes)
	FIELD(iface_counters, forwarded_packets) FIELD(iface_counters, forwarded_bytes)
	FIELD(iface_counters, gso_added_packets) FIELD(iface_counters, gso_added_bytes) END
	STRUCT(iface_record) FIELD(iface_record, key) FIELD(iface_record, counters) END
	STRUCT(own_addr) FIELD(own_addr, ip_version) FIELD(own_addr, pad0) FIELD(own_addr, addr) END
	STRUCT(capture_record)
	FIELD(capture_record, key) FIELD(capture_record, time_ns) FIELD(capture_record, payload_len)
	FIELD(capture_record, captured_len) FIELD(capture_record, kind) FIELD(capture_record, pad0)
	FIELD(capture_record, payload) END
	STRUCT(pcap_filter)
	FIELD(pcap_filter, ifindex) FIELD(pcap_filter, snaplen) FIELD(pcap_filter, match)
	FIELD(pcap_filter, ip_version) FIELD(pcap_filter, protocol) FIELD(pcap_filter, pad0)
	FIELD(pcap_filter, port) FIELD(pcap_filter, port_a) FIELD(pcap_filter, port_b)
	FIELD(pcap_filter, pad1) FIELD(pcap_filter, pad2) FIELD(pcap_filter, host) FIELD(pcap_filter, net)
	FIELD(pcap_filter, net_mask) FIELD(pcap_filter, peer_a) FIELD(pcap_filter, peer_b) END
	STRUCT(pcap_header)
	FIELD(pcap_header, time_ns) FIELD(pcap_header, ifindex) FIELD(pcap_header, orig_len)
	FIELD(pcap_header, captured_len) FIELD(pcap_header, direction) FIELD(pcap_header, slots)
	FIELD(pcap_header, pad0) END
#undef STRUCT
#undef FIELD
#undef END
	Napi::Object consts = Napi::Object::New(env);
	consts.Set("FLOW_IFACE_MAX_ENTRIES", FLOW_IFACE_MAX_ENTRIES);
	consts.Set("FLOW_ERR__COUNT", (uint32_t)FLOW_ERR__COUNT);
	consts.Set("CAPTURE_PAYLOAD_MAX", CAPTURE_PAYLOAD_MAX);
	consts.Set("CAPTURE_DNS", (uint32_t)CAPTURE_DNS);
	consts.Set("CAPTURE_TLS", (uint32_t)CAPTURE_TLS);
	consts.Set("CAPTURE_DHCP", (uint32_t)CAPTURE_DHCP);
	consts.Set("CAPTURE_MDNS", (uint32_t)CAPTURE_MDNS);
	consts.Set("CAPTURE_LLMNR", (uint32_t)CAPTURE_LLMNR);
	consts.Set("CAPTURE_ERR__COUNT", (uint32_t)CAPTURE_ERR__COUNT);
	consts.Set("FLOW_ID_NONE", (double)FLOW_ID_NONE);
	consts.Set("FLOW_ROLE_SLOTS", FLOW_ROLE_SLOTS);
	consts.Set("FLOW_OWN_ADDRS_MAX", FLOW_OWN_ADDRS_MAX);
	consts.Set("PCAP_SLOTS", PCAP_SLOTS);
	consts.Set("PCAP_SNAP_MAX", PCAP_SNAP_MAX);
	consts.Set("PCAP_MATCH_HOST", (uint32_t)PCAP_MATCH_HOST);
	consts.Set("PCAP_MATCH_NET", (uint32_t)PCAP_MATCH_NET);
	consts.Set("PCAP_MATCH_PORT", (uint32_t)PCAP_MATCH_PORT);
	consts.Set("PCAP_MATCH_PROTO", (uint32_t)PCAP_MATCH_PROTO);
	consts.Set("PCAP_MATCH_SESSION", (uint32_t)PCAP_MATCH_SESSION);
	consts.Set("PCAP_MATCH_SESSION_PORTS", (uint32_t)PCAP_MATCH_SESSION_PORTS);
	consts.Freeze();
	l.Set("constants", consts);
	l.Freeze();
	return l;
}

// neighbours() (neighbours.h): the neighbour table now, one object per entry
// (a LAN's few hundred, read every few seconds: not a hot path).
Napi::Value Neighbours(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	static constexpr int kMax = 65536;
	std::vector<fl_neighbour> nb(kMax);
	int more = 0;
	int n = fl_neighbours_dump(nb.data(), kMax, &more);
	if (n < 0)
		throw KernelError(env, n, "cannot read the neighbour table (rtnetlink RTM_GETNEIGH)");
	Napi::Array a = Napi::Array::New(env, n);
	for (int i = 0; i < n; i++) {
		Napi::Object o = Napi::Object::New(env);
		o.Set("ifindex", nb[i].ifindex);
		o.Set("ipVersion", nb[i].family == AF_INET6 ? 6 : 4);
		o.Set("addr", Napi::Buffer<uint8_t>::Copy(env, nb[i].addr, nb[i].family == AF_INET6 ? 16 : 4));
		o.Set("mac", Napi::Buffer<uint8_t>::Copy(env, nb[i].mac, nb[i].mac_len));
		o.Set("state", nb[i].state);
		a.Set(i, o);
	}
	Napi::Object r = Napi::Object::New(env);
	r.Set("neighbours", a);
	r.Set("more", more);
	return r;
}

Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	AddonData *data = new AddonData();
	env.SetInstanceData<AddonData>(data);
	// process exit: detach everything this environment still has attached
	env.AddCleanupHook([data]() {
		std::set<Collector *> live = data->live;
		for (Collector *c : live) {
			c->draining_ = false; // the thread pool is gone at teardown
			c->Release();
		}
	});
	exports.Set("Collector", Collector::Init(env));
	exports.Set("LinkWatch", LinkWatch::Init(env));
#ifdef FLOWLENS_BENCH
	exports.Set("BpfObject", BpfObject::Init(env));
	exports.Set("FlowIdTable", FlowIdTable::Init(env));
#endif
	exports.Set("xdpSupport", Napi::Function::New(env, XdpSupport));
	exports.Set("neighbours", Napi::Function::New(env, Neighbours));
	exports.Set("libbpfVersion", Napi::String::New(env, fl_libbpf_version()));
	exports.Set("layout", Layout(env));
	return exports;
}

} // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
