// JvmWork.java: a Java program for jvm.sh, run from its source (Java 11's
// source-file mode, so no javac is needed), under `heapward run`.
//
// Owns: nothing of heapward's; it is a user program. With no argument it
// runs work whose output depends only on the constants here: threads
// filling maps (the JVM's compilers and runtime allocate with malloc while
// they run), and a hot method that gets a null array now and then. Once
// the JIT compiles that method, the null is found by the hardware: the
// load faults, the JVM's SIGSEGV handler turns the fault into a
// NullPointerException, and under heapward that handler is reached through
// heapward's own (src/override/signals.c). With "overflow" or "uaf" it
// calls the matching function of jvm_bugs.c through JNI instead.
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

public class JvmWork {
	static native long overflow();

	static native long uaf();

	static int length(int[] a) {
		return a.length;
	}

	public static void main(String[] args) throws Exception {
		if (args.length > 0) {
			System.loadLibrary("jvmbugs");
			System.out.println("calling " + args[0]);
			System.out.println(args[0].equals("overflow") ? overflow() : uaf());
			return;
		}
		ExecutorService pool = Executors.newFixedThreadPool(4);
		List<Future<Long>> parts = new ArrayList<>();
		for (int t = 0; t < 8; t++) {
			final int seed = t;
			parts.add(pool.submit(() -> {
				long sum = 0;
				Map<String, int[]> m = new HashMap<>();
				for (int i = 0; i < 100000; i++) {
					m.put("k" + (i % 3000), new int[(i + seed) % 100 + 1]);
					sum += m.size();
				}
				return sum + seed;
			}));
		}
		long total = 0;
		for (Future<Long> f : parts)
			total += f.get();
		pool.shutdown();
		System.out.println("maps " + total);
		long nulls = 0, lengths = 0;
		for (int i = 0; i < 2000000; i++) {
			int[] a = (i % 1000 == 0) ? null : new int[i % 7];
			try {
				lengths += length(a);
			} catch (NullPointerException e) {
				nulls++;
			}
		}
		System.out.println("lengths " + lengths + " nulls " + nulls);
	}
}
