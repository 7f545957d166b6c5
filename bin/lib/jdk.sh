# Sourced by bin/ scripts: finds a JDK >= 21 (JAVA_HOME if it qualifies, else the usual system locations)
# and sets DIJIANG_JAVA_HOME plus DIJIANG_JVM_FLAGS, the flags Jlama needs (see docs in README).

java_major() { # prints the feature version of the JDK at $1, or nothing
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | cut -d. -f1
}

find_jdk() {
  local cand v best="" best_v=0
  for cand in "${JAVA_HOME:-}" /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /Library/Java/JavaVirtualMachines/*/Contents/Home "$HOME"/.sdkman/candidates/java/*; do
    [ -n "$cand" ] && [ -x "$cand/bin/java" ] && [ -x "$cand/bin/javac" ] || continue
    v=$(java_major "$cand")
    [ -n "$v" ] && [ "$v" -ge 21 ] 2>/dev/null || continue
    # JAVA_HOME wins if it qualifies; otherwise take the newest installed JDK.
    if [ "$cand" = "${JAVA_HOME:-}" ]; then best=$cand; best_v=$v; break; fi
    if [ "$v" -gt "$best_v" ]; then best=$cand; best_v=$v; fi
  done
  if [ -z "$best" ]; then
    echo "error: no JDK 21 or newer found (checked JAVA_HOME and /usr/lib/jvm, /usr/java, /opt); install one, e.g. Temurin 25" >&2
    return 1
  fi
  DIJIANG_JAVA_HOME=$best
  DIJIANG_JAVA_VERSION=$best_v
  # Vector API module; Panama math (jlama-native gave wrong F32 products); 8-float vectors so head size 8 works.
  # DIJIANG_VECTOR_BITS=512: 16-float vectors on AVX-512 CPUs, for models whose head size is a multiple of 16
  # (the project's kernels run wider; Jlama's softmax attention overruns shorter heads: README "Configuration").
  local max_vector
  case "${DIJIANG_VECTOR_BITS:-256}" in
    256) max_vector=32 ;;
    512) max_vector=64 ;;
    *) echo "error: DIJIANG_VECTOR_BITS must be 256 or 512, not '${DIJIANG_VECTOR_BITS}'" >&2; return 1 ;;
  esac
  DIJIANG_JVM_FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:MaxVectorSize=$max_vector -Djlama.force_panama_tensor_operations=true -Djava.awt.headless=true"
  # Jlama 0.8.4 uses java.lang.foreign, still a preview API on JDK 21.
  [ "$best_v" -eq 21 ] && DIJIANG_JVM_FLAGS="$DIJIANG_JVM_FLAGS --enable-preview"
  export DIJIANG_JAVA_HOME DIJIANG_JAVA_VERSION DIJIANG_JVM_FLAGS
}
