# The test class path of a module (sourced by run.sh and ab.sh). It names this build's own artifacts, which a fresh
# machine's local Maven repository does not hold until the build is installed: then it installs the build (once) and
# asks again, and if that fails too it says so and where Maven's output is, instead of exiting without a word.
#
#   test_classpath MODULE FILE    writes the class path to FILE (Maven's output to FILE.log)
test_classpath() {
  local module=$1 file=$2
  _classpath_ask() {  # (bash functions are global: a name no script uses)
    ./mvnw -B -q -ntp -pl "$module" dependency:build-classpath -Dmdep.includeScope=test \
      -Dmdep.outputFile="$file" > "$file.log" 2>&1
  }
  _classpath_ask && return 0
  echo "building and installing (the class path of $module names artifacts the local Maven repository lacks)..."
  ./mvnw -B -q -ntp -DskipTests install > "$file.install.log" 2>&1 && _classpath_ask && return 0
  echo "bench: cannot resolve the test class path of $module; Maven's output: $file.log, $file.install.log" >&2
  return 1
}
