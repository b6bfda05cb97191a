# free_port FIRST: prints a free loopback port among FIRST..FIRST+99, or
# fails. The test servers take ports below the ephemeral range (PostgreSQL
# from 25432, versitygw from 27070, mailpit from 28025, Directus from
# 28055), so a client connection cannot take one between the check and the
# bind. Sourced by the scripts that start them.
free_port() {
  local p
  for p in $(seq "$1" $(($1 + 99))); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
