# Helpers the bench scripts share; sourced, not run. sign_in needs APP (the app's public URL) and
# work (a temporary folder for its cookie jars) to be set.

# Installs a Debian package the script needs and the machine lacks.
install() {
  echo "installing $1 from the machine's package manager" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "$1" >/dev/null
}

# A TCP port on loopback that is free now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Signs in as $1 through the real redirects and the IdP's login form, with a fresh cookie jar;
# prints the session cookie's value.
sign_in() {
  local user=$1 jar location page csrf
  jar=$(mktemp -p "$work")
  location=$(curl -s -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "$APP/auth/sign-in")
  location=$(curl -s -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "$location")
  page=$(curl -s -c "$jar" -b "$jar" "$location")
  csrf=$(sed -n 's/.*name="_csrf" value="\([^"]*\)".*/\1/p' <<<"$page")
  location=$(curl -s -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" \
    --data-urlencode "_csrf=$csrf" --data-urlencode "username=$user" \
    --data-urlencode "password=$user-password" "$location")
  curl -s -o /dev/null -c "$jar" -b "$jar" "$location"
  awk '$6 == "session" { print $7 }' "$jar"
}
