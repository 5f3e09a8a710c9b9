package tasklib

import (
	"fmt"
	"slices"
	"strings"
)

// Builtins returns the catalogue shipped in the binary, sorted by name then version. Each call
// returns fresh values (callers may keep and change them).
func Builtins() []Template {
	out := []Template{
		{
			Name: "Bash", Version: "3.0", Category: "Utility", Shell: "bash",
			Description: "Run a Bash script, inline or from a file (for example one of the release's artifacts).",
			Inputs: []Input{
				{Name: "targetType", Type: InputPicklist, Options: []string{"inline", "filePath"}, Default: "inline", Help: "inline: run `script`; filePath: run the file at `filePath`."},
				{Name: "script", Type: InputMultiline, Help: "The script, for targetType inline."},
				{Name: "filePath", Type: InputFilePath, Help: "The script file, for targetType filePath, e.g. `$(System.ArtifactsDirectory)/app/deploy.sh`."},
				{Name: "arguments", Type: InputString, Help: "Arguments passed to the script file (shell words)."},
				{Name: "workingDirectory", Type: InputFilePath, Help: "Where the script runs (default: the job's working directory)."},
			},
			Script: bashScript, Builtin: true,
		},
		{
			Name: "CmdLine", Version: "2.0", Category: "Utility", Shell: "sh",
			Description: "Run a command line script with `sh` (Azure's CmdLine runs `cmd` on Windows: for that, give an inline task `shell: cmd`, which demands a Windows agent).",
			Inputs: []Input{
				{Name: "script", Type: InputMultiline, Required: true, Help: "The commands, run by `sh -e`."},
				{Name: "workingDirectory", Type: InputFilePath, Help: "Where the script runs (default: the job's working directory)."},
			},
			Script: cmdLineScript, Builtin: true,
		},
		{
			Name: "PowerShell", Version: "2.0", Category: "Utility", Shell: "pwsh", Demands: []string{"pwsh"},
			Description: "Run a PowerShell (pwsh) script, inline or from a file.",
			Inputs: []Input{
				{Name: "targetType", Type: InputPicklist, Options: []string{"inline", "filePath"}, Default: "inline", Help: "inline: run `script`; filePath: run the file at `filePath`."},
				{Name: "script", Type: InputMultiline, Help: "The script, for targetType inline."},
				{Name: "filePath", Type: InputFilePath, Help: "The .ps1 file, for targetType filePath."},
				{Name: "workingDirectory", Type: InputFilePath, Help: "Where the script runs (default: the job's working directory)."},
			},
			Script: powerShellScript, Builtin: true,
		},
		{
			Name: "ShellScript", Version: "2.0", Category: "Utility", Shell: "bash",
			Description: "Run a shell script file, typically one of the release's artifacts.",
			Inputs: []Input{
				{Name: "scriptPath", Type: InputFilePath, Required: true, Help: "The script file, e.g. `$(System.ArtifactsDirectory)/app/deploy.sh` (relative paths start in the job's working directory)."},
				{Name: "args", Type: InputString, Help: "Arguments (shell words)."},
				{Name: "cwd", Type: InputFilePath, Help: "Where the script runs (default: the job's working directory)."},
			},
			Script: shellScriptScript, Builtin: true,
		},
		{
			Name: "CopyFiles", Version: "2.0", Category: "Utility", Shell: "bash",
			Description: "Copy the files that match glob patterns from a source folder to a target folder.",
			Inputs: []Input{
				{Name: "SourceFolder", Type: InputFilePath, Help: "The folder the patterns are relative to (default: the job's working directory)."},
				{Name: "Contents", Type: InputMultiline, Default: "**", Help: "Glob patterns, one a line (`**` any depth, `*`, `?`, `[…]`)."},
				{Name: "TargetFolder", Type: InputFilePath, Required: true, Help: "Where the files go (created if needed)."},
				{Name: "CleanTargetFolder", Type: InputBoolean, Default: "false", Help: "Empty the target folder first."},
				{Name: "OverWrite", Type: InputBoolean, Default: "false", Help: "Replace files that exist in the target (else they are kept and reported)."},
				{Name: "flattenFolders", Type: InputBoolean, Default: "false", Help: "Copy every file into the target folder itself, without its subfolders."},
			},
			Script: copyFilesScript, Builtin: true,
		},
		{
			Name: "ExtractFiles", Version: "1.0", Category: "Utility", Shell: "bash",
			Description: "Extract .zip, .tar.gz/.tgz and .tar archives that match glob patterns.",
			Inputs: []Input{
				{Name: "archiveFilePatterns", Type: InputMultiline, Default: "**/*.zip", Help: "Glob patterns of the archives, one a line."},
				{Name: "destinationFolder", Type: InputFilePath, Required: true, Help: "Where the archives are extracted."},
				{Name: "cleanDestinationFolder", Type: InputBoolean, Default: "true", Help: "Empty the destination first."},
				{Name: "overwriteExistingFiles", Type: InputBoolean, Default: "false", Help: "Replace files that exist in the destination (zip); else an existing file fails the task."},
			},
			Script: extractFilesScript, Builtin: true,
		},
		{
			Name: "ReplaceTokens", Version: "1.0", Category: "Utility", Shell: "bash", Demands: []string{"perl"},
			Description: "Replace `#{NAME}#` tokens in files with the values of release variables (NAME in any case; `.` and other characters match `_`, as in the variable's environment name).",
			Inputs: []Input{
				{Name: "rootDirectory", Type: InputFilePath, Help: "The folder the patterns are relative to (default: the job's working directory)."},
				{Name: "targetFiles", Type: InputMultiline, Default: "**/*.config", Help: "Glob patterns of the files, one a line."},
				{Name: "tokenPrefix", Type: InputString, Default: "#{", Help: "What starts a token."},
				{Name: "tokenSuffix", Type: InputString, Default: "}#", Help: "What ends a token."},
				{Name: "missingVariable", Type: InputPicklist, Options: []string{"warn", "fail", "keep"}, Default: "warn", Help: "What a token without a variable does: warn (kept, with a warning), fail the task, or keep silently."},
			},
			Script: replaceTokensScript, Builtin: true,
		},
		{
			Name: "SSH", Version: "0.2", Category: "Deploy", Runner: RunnerSSH,
			Description: "Run commands, a script file from the agent, or an inline script on a remote host over SSH (Azure's SSH@0). " + sshNote,
			Inputs: append(sshInputs(),
				Input{Name: "runOptions", Type: InputPicklist, Options: []string{"commands", "script", "inline"}, Default: "commands", Help: "commands: run each line of `commands` in turn (the first that fails stops); script: send the agent's file `scriptPath` to `interpreter -s`; inline: the same with `inline`."},
				Input{Name: "commands", Type: InputMultiline, Help: "One command a line, for runOptions commands."},
				Input{Name: "scriptPath", Type: InputFilePath, Help: "A script file on the agent, for runOptions script."},
				Input{Name: "inline", Type: InputMultiline, Help: "The script, for runOptions inline."},
				Input{Name: "interpreter", Type: InputString, Default: "sh", Help: "The remote program that reads the script on its standard input (`sh`, `bash`…)."},
				Input{Name: "args", Type: InputString, Help: "Arguments of the script (remote shell words)."},
				Input{Name: "failOnStdErr", Type: InputBoolean, Default: "true", Help: "Fail when a command writes to stderr."},
			),
			Builtin: true,
		},
		{
			Name: "CopyFilesOverSSH", Version: "0.2", Category: "Deploy", Runner: RunnerCopyFilesOverSSH,
			Description: "Copy the files that match glob patterns to a folder on a remote host over SSH (Azure's CopyFilesOverSSH@0; files are written through the remote shell, so the host needs `sh`, `mkdir`, `cat`, `mv`). " + sshNote,
			Inputs: append(sshInputs(),
				Input{Name: "sourceFolder", Type: InputFilePath, Help: "The folder the patterns are relative to (default: the job's working directory)."},
				Input{Name: "contents", Type: InputMultiline, Default: "**", Help: "Glob patterns, one a line (`**` any depth; a line starting with `!` excludes)."},
				Input{Name: "targetFolder", Type: InputString, Required: true, Help: "The folder on the host (`~/` is the user's home)."},
				Input{Name: "cleanTargetFolder", Type: InputBoolean, Default: "false", Help: "Empty the target folder first."},
				Input{Name: "overwrite", Type: InputBoolean, Default: "true", Help: "Replace files that exist on the host (else they are kept and reported)."},
				Input{Name: "flattenFolders", Type: InputBoolean, Default: "false", Help: "Copy every file into the target folder itself."},
				Input{Name: "failOnEmptySource", Type: InputBoolean, Default: "false", Help: "Fail when no file matches (else a warning)."},
			),
			Builtin: true,
		},
		{
			Name: "FileTransform", Version: "1.0", Category: "Utility", Runner: RunnerFileTransform,
			Description: "Substitute release variables into JSON or XML configuration files (Azure's FileTransform@1 variable substitution). JSON: a variable named by a dotted path of keys (`ConnectionStrings.Default`, `servers.0.host`) replaces the value there when the path exists (keys without case); numbers, booleans and null keep their type when the value reads as one; key order is kept and the file is rewritten indented by two spaces. XML: `<appSettings><add key=\"K\" value=…/>` takes variable K and `<connectionStrings><add name=\"N\" connectionString=…/>` variable N, the rest of the file unchanged byte for byte (applicationSettings and XDT transforms are not supported). Variables are the job's, including those earlier tasks set; secrets are substituted like the others.",
			Inputs: []Input{
				{Name: "folderPath", Type: InputFilePath, Help: "The folder the patterns are relative to (default: the job's working directory)."},
				{Name: "fileType", Type: InputPicklist, Options: []string{"json", "xml"}, Required: true, Help: "The files' format."},
				{Name: "targetFiles", Type: InputMultiline, Help: "Glob patterns, one a line (default `**/*.json` or `**/*.config`); no match fails the task."},
			},
			Builtin: true,
		},
		{
			Name: "InvokeHttp", Version: "1.0", Category: "Utility", Runner: RunnerInvokeHTTP,
			Description: "Call an HTTP endpoint from the agent and check the answer (Azure's InvokeRESTAPI inputs). The call goes through the same outbound address guard as the server's gates and hooks: loopback, link-local (cloud metadata), 0.0.0.0/8 and multicast are refused unless the agent's `--outbound-allowed-networks` lets them through. The answer passes when its status is 2xx and `successCriteria`, if given, holds. At most 1 MiB is read; 4 KiB of it is logged, secrets masked.",
			Inputs: []Input{
				{Name: "url", Type: InputString, Required: true, Help: "The http or https URL."},
				{Name: "method", Type: InputPicklist, Options: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}, Default: "GET", Help: "The method."},
				{Name: "headers", Type: InputMultiline, Help: "`Name: value` lines, or a JSON object of strings. A secret header value: a `$(secret variable)` reference."},
				{Name: "body", Type: InputMultiline, Help: "The request body (Content-Type application/json unless a header says otherwise)."},
				{Name: "successCriteria", Type: InputString, Help: "A condition over `variables['status']`, `variables['body']` and `variables['json.a.b']` (a path into a JSON answer), e.g. `eq(variables['json.status'], 'healthy')`; Azure's `root['status']` reads as `variables['json.status']`."},
				{Name: "timeout", Type: InputString, Default: "30", Help: "Seconds the call may take."},
			},
			Builtin: true,
		},
		{
			Name: "DownloadSecureFile", Version: "1.0", Category: "Utility", Runner: RunnerDownloadSecureFile,
			Description: "Place a library secure file on the agent for the job and set the variable `secureFilePath` (and `<task name>.secureFilePath`) to its path for the later tasks. The server sends the file with the job (it must exist, and the definition's editor may use it, checked on save); it is written with mode 0600 under the job's directory and removed when the job ends, also on failure, cancel and timeout.",
			Inputs: []Input{
				{Name: "secureFile", Type: InputString, Required: true, Help: "The secure file's name in the library."},
			},
			Builtin: true,
		},
		{
			Name: "DownloadFile", Version: "1.0", Category: "Utility", Runner: RunnerDownloadFile,
			Description: "Download a file over HTTP(S) into the job's directory (the custom-artifact route: a package from a repository or CI server Cairn does not integrate with) and set the variable `downloadedFilePath` (and `<task name>.downloadedFilePath`) to its path. The request goes through the agent's outbound address guard, as InvokeHttp's. With `serviceConnection`, the connection's user name and secret go with the request as Basic auth, only to its own origin: the definition is refused on save, and the job when it is assigned, unless the URL's scheme, host and port equal the connection URL's (they may not hold `$(variable)` references then), and the agent checks the expanded URL and every redirect again (a redirect elsewhere is followed without the credentials). At most " + DownloadFileMaxSize + " is written; a larger file fails the task and nothing is left behind. The file is written under a temporary name and renamed when complete (and its sha256 checked, if given).",
			Inputs: []Input{
				{Name: "url", Type: InputString, Required: true, Help: "The http or https URL."},
				{Name: "targetPath", Type: InputFilePath, Required: true, Help: "Where the file goes, inside the job's directory: relative to the task's working directory (default: the job's working directory), or absolute within the job's directory."},
				{Name: "serviceConnection", Type: InputServiceConnection, Help: "A service connection whose credentials authenticate the download (Basic auth); the URL must be on its scheme, host and port."},
				{Name: "sha256", Type: InputString, Help: "The file's expected SHA-256 (64 hex digits); a mismatch fails the task and removes the file."},
				{Name: "overwrite", Type: InputBoolean, Default: "false", Help: "Replace an existing file (else an existing file fails the task)."},
				{Name: "timeout", Type: InputString, Default: "600", Help: "Seconds the download may take."},
			},
			Builtin: true,
		},
		{
			Name: "Docker", Version: "2.1", Category: "Deploy", Shell: "bash", Demands: []string{"docker"},
			Description: "Run the docker CLI: login, build, push, buildAndPush, run or logout, with the inputs mapped to its arguments (the password goes on standard input). " +
				"With `containerRegistry` (a DOCKER_REGISTRY service connection) the task logs in to that registry before build, push and run, in a docker configuration of its own (`DOCKER_CONFIG`, a private directory the agent removes after the task), so that the credentials never stay on the agent; the registry's host prefixes `repository`.",
			Inputs: []Input{
				{Name: "command", Type: InputPicklist, Options: []string{"buildAndPush", "build", "push", "login", "logout", "run"}, Default: "buildAndPush", Help: "What to do."},
				{Name: "containerRegistry", Type: InputServiceConnection, ConnectionKind: ConnectionDockerRegistry, Replaces: []string{"registry", "username", "password"}, Help: "A DOCKER_REGISTRY service connection: the registry and its credentials (instead of registry, username and password)."},
				{Name: "registry", Type: InputString, Help: "The registry host (e.g. registry.example.com); empty: Docker Hub. Prefixes `repository`."},
				{Name: "username", Type: InputString, Help: "For login (and before buildAndPush/push when given)."},
				{Name: "password", Type: InputSecret, Help: "For login, as a `$(secret variable)` reference."},
				{Name: "repository", Type: InputString, Help: "The image repository, e.g. team/web."},
				{Name: "tags", Type: InputMultiline, Default: "latest", Help: "Tags, one a line."},
				{Name: "Dockerfile", Type: InputFilePath, Default: "Dockerfile", Help: "The Dockerfile (relative to the working directory)."},
				{Name: "buildContext", Type: InputFilePath, Help: "The build context (default: the Dockerfile's folder)."},
				{Name: "arguments", Type: InputString, Help: "More arguments for build or run (shell words; quotes are honoured, nothing is expanded)."},
				{Name: "workingDirectory", Type: InputFilePath, Help: "Where docker runs (default: the job's working directory)."},
			},
			Script: dockerScript, Builtin: true,
		},
		{
			Name: "Kubernetes", Version: "1.1", Category: "Deploy", Shell: "bash", Demands: []string{"kubectl"},
			Description: "Run kubectl (apply, delete, get, rollout, scale, set, create…) with a KUBERNETES service connection, or a kubeconfig file such as a secure file's path. " + kubeNote,
			Inputs: []Input{
				{Name: "command", Type: InputString, Default: "apply", Help: "The kubectl command (one word)."},
				{Name: "kubernetesServiceConnection", Type: InputServiceConnection, ConnectionKind: ConnectionKubernetes, Replaces: []string{"kubeconfig"}, Help: "A KUBERNETES service connection: its kubeconfig, context (`--context`) and default namespace."},
				{Name: "kubeconfig", Type: InputFilePath, Help: "A kubeconfig file, e.g. `$(SECUREFILE_KUBECONFIG_PATH)`; empty: kubectl's default."},
				{Name: "namespace", Type: InputString, Help: "`--namespace` (default: the service connection's namespace, if any)."},
				{Name: "useConfigurationFile", Type: InputBoolean, Default: "false", Help: "Pass `--filename configuration`."},
				{Name: "configuration", Type: InputFilePath, Help: "The manifest file or folder, with useConfigurationFile."},
				{Name: "arguments", Type: InputString, Help: "More arguments (shell words; quotes are honoured, nothing is expanded)."},
				{Name: "workingDirectory", Type: InputFilePath, Help: "Where kubectl runs (default: the job's working directory)."},
			},
			Script: kubectlScript, Builtin: true,
		},
		{
			Name: "HelmDeploy", Version: "0.2", Category: "Deploy", Shell: "bash", Demands: []string{"helm"},
			Description: "Run helm upgrade (or install, rollback, uninstall, another command) with a KUBERNETES service connection, or a kubeconfig file such as a secure file's path. " + kubeNote,
			Inputs: []Input{
				{Name: "command", Type: InputString, Default: "upgrade", Help: "The helm command (one word)."},
				{Name: "kubernetesServiceEndpoint", Type: InputServiceConnection, ConnectionKind: ConnectionKubernetes, Replaces: []string{"kubeconfig"}, Help: "A KUBERNETES service connection: its kubeconfig, context (`--kube-context`) and default namespace."},
				{Name: "kubeconfig", Type: InputFilePath, Help: "A kubeconfig file; empty: helm's default."},
				{Name: "namespace", Type: InputString, Help: "`--namespace` (default: the service connection's namespace, if any)."},
				{Name: "releaseName", Type: InputString, Help: "The release (upgrade, install, rollback, uninstall)."},
				{Name: "chart", Type: InputString, Help: "The chart: a path or repo/name (upgrade, install)."},
				{Name: "chartVersion", Type: InputString, Help: "`--version`."},
				{Name: "valueFile", Type: InputFilePath, Help: "`--values` file."},
				{Name: "overrideValues", Type: InputMultiline, Help: "`--set` values, `name=value` one a line."},
				{Name: "install", Type: InputBoolean, Default: "true", Help: "`--install` for upgrade."},
				{Name: "waitForExecution", Type: InputBoolean, Default: "true", Help: "`--wait`."},
				{Name: "arguments", Type: InputString, Help: "More arguments (shell words; quotes are honoured, nothing is expanded)."},
			},
			Script: helmScript, Builtin: true,
		},
		{
			Name: "Chef", Version: "1.0", Category: "Deploy", Shell: "bash", Demands: []string{"chef-client"},
			Description: "Run chef-client on the agent's machine: converge it to a run list in a Chef environment, against a Chef server (the client's configuration) or in local mode (`--local-mode`, a chef-zero in memory for cookbooks on disk).",
			Inputs: []Input{
				{Name: "runList", Type: InputString, Help: "`--runlist`, e.g. `recipe[web::deploy],role[base]` (replaces the node's run list); empty: the node's own."},
				{Name: "environment", Type: InputString, Help: "`--environment`: the Chef environment (letters, digits, `_` and `-`)."},
				{Name: "configFile", Type: InputFilePath, Help: "`--config`: the client.rb to use; empty: chef-client's default."},
				{Name: "localMode", Type: InputBoolean, Default: "false", Help: "`--local-mode`: run against cookbooks on disk, without a Chef server."},
				{Name: "arguments", Type: InputString, Help: "More arguments (shell words; quotes are honoured, nothing is expanded)."},
				{Name: "workingDirectory", Type: InputFilePath, Help: "Where chef-client runs (default: the job's working directory)."},
			},
			Script: chefScript, Builtin: true,
		},
	}
	slices.SortFunc(out, func(a, b Template) int { return strings.Compare(a.Name+"@"+a.Version, b.Name+"@"+b.Version) })
	return out
}

// DownloadFileMaxSize is the largest file DownloadFile@1 writes, as its documentation says it
// (the agent's limit is DownloadFileMaxBytes).
const DownloadFileMaxSize = "2 GiB"

// DownloadFileMaxBytes is the largest file DownloadFile@1 writes.
const DownloadFileMaxBytes int64 = 2 << 30

// sshNote says how the SSH tasks connect.
const sshNote = "The host, user, credentials and host keys come from `sshEndpoint`, an SSH service connection (the server sends it with the job; its private key and password never reach a script or the log), or from the inline inputs. " +
	"The host key must be pinned (the connection's host keys, or `hostKey`) unless trust on first use is set, in which case the agent records the key it first sees in its own known_hosts file (beside its job directories) and refuses a different key later; an unknown key is refused with its fingerprint. Runs in the agent (no shell or ssh client needed)."

// kubeNote says how the Kubernetes tasks use a connection.
const kubeNote = "With a service connection the agent writes its kubeconfig to a file of its own (mode 0600), passes it with `--kubeconfig` and removes it when the task ends, whatever its result; the kubeconfig's tokens, passwords and keys are masked in the log."

// sshConnectionInputs are the inputs an SSH service connection replaces.
var sshConnectionInputs = []string{"host", "port", "username", "privateKey", "privateKeyFile", "passphrase", "password", "hostKey", "trustOnFirstUse"}

// sshInputs are the connection inputs of the SSH tasks: an SSH service connection, or inline
// (the private key from a secret variable or a secure file's path).
func sshInputs() []Input {
	return []Input{
		{Name: "sshEndpoint", Type: InputServiceConnection, ConnectionKind: ConnectionSSH, Replaces: sshConnectionInputs, Help: "An SSH service connection: host, port, user, private key or password, and host keys (instead of the inputs below it)."},
		{Name: "host", Type: InputString, Required: true, Help: "The host name or address."},
		{Name: "port", Type: InputString, Default: "22", Help: "The SSH port."},
		{Name: "username", Type: InputString, Required: true, Help: "The user to log in as."},
		{Name: "privateKey", Type: InputSecret, Help: "A private key (OpenSSH or PEM), as a `$(secret variable)` reference."},
		{Name: "privateKeyFile", Type: InputFilePath, Help: "A private key file on the agent, e.g. a secure file: `$(SECUREFILE_DEPLOY_KEY_PATH)`."},
		{Name: "passphrase", Type: InputSecret, Help: "The private key's passphrase, as a `$(secret variable)` reference."},
		{Name: "password", Type: InputSecret, Help: "A password (password or keyboard-interactive authentication), as a `$(secret variable)` reference."},
		{Name: "hostKey", Type: InputMultiline, Help: "The host keys to accept, one a line: `ssh-ed25519 AAAA…`, a known_hosts line, or a `SHA256:…` fingerprint."},
		{Name: "trustOnFirstUse", Type: InputBoolean, Default: "false", Help: "Without hostKey: accept and record the host's key on first contact, refuse a changed key afterwards."},
		{Name: "readyTimeout", Type: InputString, Default: "20", Help: "Seconds to wait for the connection."},
	}
}

// Implementations. They read their inputs from INPUT_* variables only (see the package doc).

const bashScript = `set -e
if [ -n "$INPUT_WORKINGDIRECTORY" ]; then cd "$INPUT_WORKINGDIRECTORY"; fi
if [ "$INPUT_TARGETTYPE" = "filePath" ]; then
  if [ ! -f "$INPUT_FILEPATH" ]; then
    echo "##vso[task.logissue type=error]script file '$INPUT_FILEPATH' not found"
    exit 1
  fi
  eval "set -- $INPUT_ARGUMENTS"
  exec bash "$INPUT_FILEPATH" "$@"
fi
f="$(mktemp)"
trap 'rm -f "$f"' EXIT
printf '%s\n' "$INPUT_SCRIPT" > "$f"
set +e
bash "$f"
exit $?
`

const cmdLineScript = `set -e
if [ -n "$INPUT_WORKINGDIRECTORY" ]; then cd "$INPUT_WORKINGDIRECTORY"; fi
f="$(mktemp)"
trap 'rm -f "$f"' EXIT
printf '%s\n' "$INPUT_SCRIPT" > "$f"
set +e
sh -e "$f"
exit $?
`

const powerShellScript = `$ErrorActionPreference = 'Stop'
if ($env:INPUT_WORKINGDIRECTORY) { Set-Location -LiteralPath $env:INPUT_WORKINGDIRECTORY }
if ($env:INPUT_TARGETTYPE -eq 'filePath') {
  & $env:INPUT_FILEPATH
  exit $LASTEXITCODE
}
$f = Join-Path ([System.IO.Path]::GetTempPath()) ("cairn-" + [guid]::NewGuid() + ".ps1")
Set-Content -LiteralPath $f -Value $env:INPUT_SCRIPT
try { & $f } finally { Remove-Item -LiteralPath $f -ErrorAction SilentlyContinue }
exit $LASTEXITCODE
`

const shellScriptScript = `set -e
script="$INPUT_SCRIPTPATH"
case "$script" in /*) ;; *) script="$PWD/$script" ;; esac
if [ ! -f "$script" ]; then
  echo "##vso[task.logissue type=error]script file '$INPUT_SCRIPTPATH' not found"
  exit 1
fi
if [ -n "$INPUT_CWD" ]; then cd "$INPUT_CWD"; fi
eval "set -- $INPUT_ARGS"
exec bash "$script" "$@"
`

// globLoop is shared by the file tasks: it runs "each" for every regular file that a line of
// $patterns matches under the current directory (bash globbing: ** at any depth, dot files
// included; patterns are not split on blanks).
const globLoop = `shopt -s globstar nullglob dotglob
each_match() {
  local patterns="$1" fn="$2" line f
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -z "$line" ] && continue
    local IFS=
    for f in $line; do
      [ -f "$f" ] && "$fn" "${f#./}"
    done
    unset IFS
  done <<< "$patterns"
}
is_true() { case "${1,,}" in true|yes|1) return 0 ;; esac; return 1; }
`

const copyFilesScript = `set -eu
` + globLoop + `
src="${INPUT_SOURCEFOLDER:-.}"
dst="$INPUT_TARGETFOLDER"
if [ ! -d "$src" ]; then
  echo "##vso[task.logissue type=error]source folder '$src' does not exist"
  exit 1
fi
mkdir -p "$dst"
dst="$(cd "$dst" && pwd)"
if is_true "$INPUT_CLEANTARGETFOLDER"; then
  echo "Cleaning $dst"
  find "$dst" -mindepth 1 -delete
fi
cd "$src"
copied=0 skipped=0
declare -A seen=()
copy_one() {
  local rel="$1"
  if is_true "$INPUT_FLATTENFOLDERS"; then rel="$(basename "$1")"; fi
  [ -n "${seen[$rel]:-}" ] && return 0
  seen[$rel]=1
  local target="$dst/$rel"
  if [ -e "$target" ] && ! is_true "$INPUT_OVERWRITE"; then
    echo "Skipped $rel: it exists in the target (OverWrite is false)"
    skipped=$((skipped+1))
    return 0
  fi
  mkdir -p "$(dirname "$target")"
  cp -p "$1" "$target"
  echo "Copied $1 to $target"
  copied=$((copied+1))
}
each_match "${INPUT_CONTENTS:-**}" copy_one
echo "Copied $copied file(s), skipped $skipped"
`

const extractFilesScript = `set -eu
` + globLoop + `
dst="$INPUT_DESTINATIONFOLDER"
mkdir -p "$dst"
dst="$(cd "$dst" && pwd)"
if is_true "$INPUT_CLEANDESTINATIONFOLDER"; then
  echo "Cleaning $dst"
  find "$dst" -mindepth 1 -delete
fi
n=0
extract_one() {
  case "$1" in
    *.zip)
      if command -v unzip >/dev/null; then
        if is_true "$INPUT_OVERWRITEEXISTINGFILES"; then unzip -o -q "$1" -d "$dst"; else unzip -n -q "$1" -d "$dst"; fi
      else
        python3 -m zipfile -e "$1" "$dst"
      fi ;;
    *.tar.gz|*.tgz) tar -xzf "$1" -C "$dst" ;;
    *.tar) tar -xf "$1" -C "$dst" ;;
    *) echo "##vso[task.logissue type=warning]$1 is not a .zip, .tar.gz, .tgz or .tar archive"; return 0 ;;
  esac
  echo "Extracted $1 to $dst"
  n=$((n+1))
}
each_match "${INPUT_ARCHIVEFILEPATTERNS:-**/*.zip}" extract_one
if [ "$n" -eq 0 ]; then
  echo "##vso[task.logissue type=error]no archive matched the patterns"
  exit 1
fi
`

const replaceTokensScript = `set -eu
` + globLoop + `
cd "${INPUT_ROOTDIRECTORY:-.}"
prefix='#{' suffix='}#'
export CAIRN_TOKEN_PREFIX="${INPUT_TOKENPREFIX:-$prefix}" CAIRN_TOKEN_SUFFIX="${INPUT_TOKENSUFFIX:-$suffix}" CAIRN_MISSING="${INPUT_MISSINGVARIABLE:-warn}"
missing=0
replace_one() {
  echo "Replacing tokens in $1"
  perl -pi -e '
    s{\Q$ENV{CAIRN_TOKEN_PREFIX}\E\s*([A-Za-z0-9_.\-]+)\s*\Q$ENV{CAIRN_TOKEN_SUFFIX}\E}{
      my $n = uc $1; $n =~ s/[^A-Z0-9_]/_/g;
      if (exists $ENV{$n}) { $ENV{$n} }
      else {
        print STDOUT "##vso[task.logissue type=warning]token $1 in $ARGV has no variable\n" if $ENV{CAIRN_MISSING} ne "keep";
        $main::missing++; $&
      }
    }ge;
    END { $? = 3 if $main::missing && $ENV{CAIRN_MISSING} eq "fail" }
  ' "$1" || { echo "##vso[task.logissue type=error]$1 has tokens without a variable"; missing=1; }
}
each_match "${INPUT_TARGETFILES:-**/*.config}" replace_one
exit "$missing"
`

// words reads $INPUT_ARGUMENTS into the array extra with xargs's quoting rules: quotes and
// backslashes are honoured, nothing is expanded or run (unlike eval).
const words = `extra=()
if [ -n "${INPUT_ARGUMENTS:-}" ]; then
  words_file="$(mktemp)"
  if ! printf '%s' "$INPUT_ARGUMENTS" | xargs -r printf '%s\0' > "$words_file"; then
    rm -f "$words_file"
    echo "##vso[task.logissue type=error]input arguments: unbalanced quotes"
    exit 1
  fi
  mapfile -d '' extra < "$words_file"
  rm -f "$words_file"
fi
run() { printf '##[command]'; printf '%q ' "$@"; echo; "$@"; }
is_true() { case "${1,,}" in true|yes|1) return 0 ;; esac; return 1; }
`

const dockerScript = `set -euo pipefail
` + words + `
if [ -n "${INPUT_WORKINGDIRECTORY:-}" ]; then cd "$INPUT_WORKINGDIRECTORY"; fi
registry="${INPUT_REGISTRY:-}" user="${INPUT_USERNAME:-}" pass="${INPUT_PASSWORD:-}" connection=
if [ -n "${ENDPOINT_REGISTRY:-}" ]; then
  registry="$ENDPOINT_REGISTRY" user="${ENDPOINT_USERNAME:-}" pass="${ENDPOINT_PASSWORD:-}" connection=1
fi
image="$INPUT_REPOSITORY"
if [ -n "$registry" ] && [ -n "$image" ]; then image="$registry/$image"; fi
tags=()
while IFS= read -r t || [ -n "$t" ]; do
  t="${t//[[:space:]]/}"; [ -n "$t" ] && tags+=("$t")
done <<< "${INPUT_TAGS:-latest}"
[ ${#tags[@]} -eq 0 ] && tags=(latest)
need_repo() { if [ -z "$image" ]; then echo "##vso[task.logissue type=error]input repository is required for $INPUT_COMMAND"; exit 1; fi; }
login() {
  if [ -z "$user" ]; then return 0; fi
  printf '##[command]docker login --username %q --password-stdin %q\n' "$user" "$registry"
  printf '%s' "$pass" | docker login --username "$user" --password-stdin ${registry:+"$registry"}
}
build() {
  need_repo
  local args=(build -f "$INPUT_DOCKERFILE")
  for t in "${tags[@]}"; do args+=(-t "$image:$t"); done
  run docker "${args[@]}" "${extra[@]}" "${INPUT_BUILDCONTEXT:-$(dirname "$INPUT_DOCKERFILE")}"
}
push() { need_repo; for t in "${tags[@]}"; do run docker push "$image:$t"; done; }
case "$INPUT_COMMAND" in
  login) if [ -z "$user" ]; then echo "##vso[task.logissue type=error]input username is required for login"; exit 1; fi; login ;;
  logout) run docker logout ${registry:+"$registry"} ;;
  build) if [ -n "$connection" ]; then login; fi; build ;;
  push) login; push ;;
  buildAndPush) if [ -n "$connection" ]; then login; build; else build; login; fi; push ;;
  run) need_repo; if [ -n "$connection" ]; then login; fi; run docker run "${extra[@]}" "$image:${tags[0]}" ;;
  *) echo "##vso[task.logissue type=error]unknown command $INPUT_COMMAND"; exit 1 ;;
esac
`

const kubectlScript = `set -euo pipefail
` + words + `
if [ -n "${INPUT_WORKINGDIRECTORY:-}" ]; then cd "$INPUT_WORKINGDIRECTORY"; fi
case "$INPUT_COMMAND" in
  ""|*[!a-z-]*) echo "##vso[task.logissue type=error]command '$INPUT_COMMAND' is not a kubectl command word"; exit 1 ;;
esac
args=()
kubeconfig="${ENDPOINT_KUBECONFIG:-${INPUT_KUBECONFIG:-}}" namespace="${INPUT_NAMESPACE:-${ENDPOINT_NAMESPACE:-}}"
[ -n "$kubeconfig" ] && args+=(--kubeconfig "$kubeconfig")
[ -n "${ENDPOINT_KUBECONTEXT:-}" ] && args+=(--context "$ENDPOINT_KUBECONTEXT")
[ -n "$namespace" ] && args+=(--namespace "$namespace")
args+=("$INPUT_COMMAND")
if is_true "${INPUT_USECONFIGURATIONFILE:-false}"; then
  if [ -z "${INPUT_CONFIGURATION:-}" ]; then echo "##vso[task.logissue type=error]input configuration is required with useConfigurationFile"; exit 1; fi
  args+=(--filename "$INPUT_CONFIGURATION")
fi
run kubectl "${args[@]}" "${extra[@]}"
`

const helmScript = `set -euo pipefail
` + words + `
case "$INPUT_COMMAND" in
  ""|*[!a-z-]*) echo "##vso[task.logissue type=error]command '$INPUT_COMMAND' is not a helm command word"; exit 1 ;;
esac
args=("$INPUT_COMMAND")
kubeconfig="${ENDPOINT_KUBECONFIG:-${INPUT_KUBECONFIG:-}}" namespace="${INPUT_NAMESPACE:-${ENDPOINT_NAMESPACE:-}}"
[ -n "$kubeconfig" ] && args+=(--kubeconfig "$kubeconfig")
[ -n "${ENDPOINT_KUBECONTEXT:-}" ] && args+=(--kube-context "$ENDPOINT_KUBECONTEXT")
[ -n "$namespace" ] && args+=(--namespace "$namespace")
case "$INPUT_COMMAND" in
  upgrade|install)
    if [ -z "${INPUT_RELEASENAME:-}" ] || [ -z "${INPUT_CHART:-}" ]; then echo "##vso[task.logissue type=error]inputs releaseName and chart are required for $INPUT_COMMAND"; exit 1; fi
    [ "$INPUT_COMMAND" = upgrade ] && is_true "${INPUT_INSTALL:-true}" && args+=(--install)
    is_true "${INPUT_WAITFOREXECUTION:-true}" && args+=(--wait)
    [ -n "${INPUT_CHARTVERSION:-}" ] && args+=(--version "$INPUT_CHARTVERSION")
    [ -n "${INPUT_VALUEFILE:-}" ] && args+=(--values "$INPUT_VALUEFILE")
    while IFS= read -r kv || [ -n "$kv" ]; do
      kv="${kv#"${kv%%[![:space:]]*}"}"; kv="${kv%"${kv##*[![:space:]]}"}"
      [ -n "$kv" ] && args+=(--set "$kv")
    done <<< "${INPUT_OVERRIDEVALUES:-}"
    args+=("$INPUT_RELEASENAME" "$INPUT_CHART") ;;
  rollback|uninstall)
    if [ -z "${INPUT_RELEASENAME:-}" ]; then echo "##vso[task.logissue type=error]input releaseName is required for $INPUT_COMMAND"; exit 1; fi
    is_true "${INPUT_WAITFOREXECUTION:-true}" && args+=(--wait)
    args+=("$INPUT_RELEASENAME") ;;
esac
run helm "${args[@]}" "${extra[@]}"
`

const chefScript = `set -euo pipefail
` + words + `
if [ -n "${INPUT_WORKINGDIRECTORY:-}" ]; then cd "$INPUT_WORKINGDIRECTORY"; fi
args=()
is_true "${INPUT_LOCALMODE:-false}" && args+=(--local-mode)
[ -n "${INPUT_CONFIGFILE:-}" ] && args+=(--config "$INPUT_CONFIGFILE")
if [ -n "${INPUT_ENVIRONMENT:-}" ]; then
  case "$INPUT_ENVIRONMENT" in
    *[!A-Za-z0-9_-]*) echo "##vso[task.logissue type=error]input environment: '$INPUT_ENVIRONMENT' is not a Chef environment name (letters, digits, _ and -)"; exit 1 ;;
  esac
  args+=(--environment "$INPUT_ENVIRONMENT")
fi
if [ -n "${INPUT_RUNLIST:-}" ]; then
  case "$INPUT_RUNLIST" in
    -*|*[[:space:]]*) echo "##vso[task.logissue type=error]input runList: '$INPUT_RUNLIST' is not a run list (items such as recipe[x] or role[y], comma-separated, no blanks)"; exit 1 ;;
  esac
  args+=(--runlist "$INPUT_RUNLIST")
fi
run chef-client "${args[@]}" "${extra[@]}"
`

// Markdown documents templates, one section each: what docs/tasks.md holds for the built-ins.
func Markdown(ts []Template) string {
	var b strings.Builder
	b.WriteString("# Task catalogue\n\n")
	b.WriteString("Generated from the built-in task templates (`internal/tasklib`); do not edit by hand: " +
		"`go test ./internal/tasklib -update` rewrites it, and a test fails when it is stale.\n\n")
	b.WriteString("A definition's task uses a template as `uses: \"Name@major\"` with `inputs`; the release freezes the newest " +
		"minor version of that major. Input values may hold `$(VARIABLE)` references, expanded on the agent when the task " +
		"runs; the implementation reads each input as the environment variable `INPUT_<NAME>`.\n\n")
	b.WriteString("A SERVICE_CONNECTION input of kind SSH, DOCKER_REGISTRY or KUBERNETES names a service connection (docs/reference/integrations.md) " +
		"that the task deploys to: the definition is refused on save unless the connection exists and is of that kind, the server sends it with the job, " +
		"and its secrets are masked in the log. The inputs it replaces (its inline form) must then be left out.\n\n")
	b.WriteString("Every built-in is run for real by the agent's tests. The SSH tasks are tested against a real OpenSSH server " +
		"(Debian's openssh-server on loopback); Docker, Kubernetes, HelmDeploy and Chef only against stand-in executables that record " +
		"the exact argv they receive, since the real CLIs need a daemon, a cluster, a registry or a Chef installation that the test machines do not have; " +
		"`cmd` (Windows agents) is not run on the Linux test machines.\n\n")
	for _, t := range ts {
		b.WriteString(Doc(&t))
	}
	return b.String()
}

// Doc documents one template.
func Doc(t *Template) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s@%d (%s)\n\n%s\n\n", t.Name, t.Major(), t.Version, t.Description)
	if t.IsGroup() {
		b.WriteString("A task group of:\n\n")
		for _, s := range t.Steps {
			fmt.Fprintf(&b, "- %s (`%s`)\n", s.Name, s.Uses)
		}
		b.WriteString("\n")
	} else {
		demands := slices.Clone(t.Demands)
		if t.Runner != "" {
			fmt.Fprintf(&b, "Runs in the agent (runner `%s`).", t.Runner)
			demands = append(demands, RunnerCapability(t.Runner))
		} else {
			fmt.Fprintf(&b, "Runs with `%s`.", t.Shell)
		}
		if len(demands) > 0 {
			fmt.Fprintf(&b, " Demands: `%s`.", strings.Join(demands, "`, `"))
		}
		b.WriteString("\n\n")
	}
	if len(t.Inputs) > 0 {
		b.WriteString("| input | type | required | default | help |\n| --- | --- | --- | --- | --- |\n")
		for _, in := range t.Inputs {
			typ := string(in.Type)
			if in.Type == InputPicklist {
				typ += " (" + strings.Join(in.Options, ", ") + ")"
			}
			if in.ConnectionKind != "" {
				typ += " (" + in.ConnectionKind + ")"
			}
			req := ""
			if in.Required {
				req = "yes"
				if by := t.ReplacedBy(in.Name); by != "" {
					req = "unless `" + by + "`"
				}
			}
			def := ""
			if in.Default != "" {
				def = "`" + strings.ReplaceAll(in.Default, "|", `\|`) + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", in.Name, typ, req, def, strings.ReplaceAll(in.Help, "|", `\|`))
		}
		b.WriteString("\n")
	}
	return b.String()
}
