/* threads.cc: a multi-threaded C++ program for the preload test: threads
 * allocating and freeing with new/delete of many sizes, std::vector,
 * std::string and std::map, handing objects to each other, and printing a
 * result that does not depend on scheduling.
 *
 * Owns: nothing of heapward's; it is a user program, built without the
 * library and run under it (tests/preload/CMakeLists.txt).
 *
 * Usage: preload_threads [ROUNDS]  (per thread, default 20000; the
 * benchmark bench/realprog.sh runs more to make it last about a second).
 *
 * Invariants:
 *   TH1. The output depends only on the constants here and ROUNDS: every
 *        thread's result is computed from its index, and the results are
 *        printed in thread order after all have joined.
 *
 * Locking: one mutex guards the hand-over queue.
 */
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace
{

constexpr int kThreads = 8;
constexpr int kRounds = 20000;

std::mutex queue_lock;
std::vector<std::unique_ptr<std::string>> queue;

unsigned long work(int t, int rounds)
{
	unsigned long sum = 0;
	std::map<int, std::string> m;
	std::vector<std::vector<int> *> held;
	for (int i = 0; i < rounds; i++) {
		/* In 64 bits: ROUNDS may take i * 7919 past INT_MAX. */
		int n = static_cast<int>((i * 7919LL + t * 104729LL) % 3000) + 1;
		auto *v = new std::vector<int>(static_cast<size_t>(n % 200), i);
		held.push_back(v);
		char *raw = new char[static_cast<size_t>(n)];
		raw[0] = static_cast<char>(i);
		raw[n - 1] = static_cast<char>(t);
		sum += static_cast<unsigned char>(raw[0]) + static_cast<unsigned char>(raw[n - 1]);
		delete[] raw;
		m[i % 500] = std::string(static_cast<size_t>(n % 97), static_cast<char>('a' + t));
		if (held.size() > 64) {
			for (auto *h : held) {
				sum += h->size();
				delete h;
			}
			held.clear();
		}
		if (i % 16 == 0) {
			/* Hand a string to whichever thread pops it next: freed
			 * by another thread than the one that made it. */
			std::unique_ptr<std::string> mine(
				new std::string(static_cast<size_t>(n), 'q'));
			std::unique_ptr<std::string> theirs;
			{
				std::lock_guard<std::mutex> g(queue_lock);
				queue.push_back(std::move(mine));
				if (queue.size() > 4) {
					theirs = std::move(queue.front());
					queue.erase(queue.begin());
				}
			}
		}
	}
	for (auto *h : held) {
		sum += h->size();
		delete h;
	}
	for (auto &kv : m)
		sum += kv.second.size() * static_cast<unsigned long>(kv.first + 1);
	return sum;
}

} // namespace

int main(int argc, char **argv)
{
	int rounds = kRounds;
	if (argc > 1) {
		char *end;
		long r = std::strtol(argv[1], &end, 10);
		if (*end != 0 || r < 1 || r > 100000000) {
			std::fprintf(stderr, "usage: preload_threads [ROUNDS]\n");
			return 2;
		}
		rounds = static_cast<int>(r);
	}
	std::vector<unsigned long> result(kThreads);
	std::vector<std::thread> threads;
	for (int t = 0; t < kThreads; t++)
		threads.emplace_back(
			[t, rounds, &result] { result[static_cast<size_t>(t)] = work(t, rounds); });
	for (auto &th : threads)
		th.join();
	for (int t = 0; t < kThreads; t++)
		std::printf("thread %d: %lu\n", t, result[static_cast<size_t>(t)]);
	std::printf("queue left %zu\n", queue.size());
	return 0;
}
