# pcbatch nightly run for Windows Task Scheduler: one log file per run, an alert when a person
# is needed, and pcbatch's exit code handed back ("Last Run Result" in Task Scheduler).
#
# Register it (as an administrator; /RP * asks for the account's password):
#   schtasks /Create /TN "pcbatch nightly billing" /SC DAILY /ST 01:15 /RU CONTOSO\svc-pcbatch /RP * /TR "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\pcbatch\jobs\nightly-billing.ps1"
#
# PC_TENANT_ID and PC_CLIENT_ID are user environment variables of that account; the client
# secret is in that account's Windows Credential Manager, stored once with `pcbatch secret set`
# (run as that account), and read by pcbatch itself through keyring (PCBATCH_SECRET=keyring):
# it is never an environment variable, nor in this file. Make C:\pcbatch private to the account
# with icacls (README.md, "Durable runs", Windows Task Scheduler). Logs:
# C:\pcbatch\logs\nightly-<UTC time>.log (JSON lines on stderr and the summary on stdout), the
# newest 60 kept.

param(
    [string]$Root = "C:\pcbatch",
    [string]$Job = "C:\pcbatch\jobs\nightly-billing-windows.toml",
    [int]$Keep = 60
)

$logs = Join-Path $Root "logs"
New-Item -ItemType Directory -Force -Path $logs | Out-Null
$stamp = (Get-Date).ToUniversalTime().ToString("yyyyMMdd'T'HHmmss'Z'")
$log = Join-Path $logs "nightly-$stamp.log"

# The secret comes from Windows Credential Manager (keyring), for this process only; a secret
# left in the account's environment by an older setup is not used.
$env:PCBATCH_SECRET = "keyring"
Remove-Item Env:PC_CLIENT_SECRET -ErrorAction SilentlyContinue

# cmd /c joins stdout and stderr into the one log, line by line, whatever the PowerShell version.
$pcbatch = Join-Path $Root ".venv\Scripts\pcbatch.exe"
cmd /c "`"$pcbatch`" run --job `"$Job`" >> `"$log`" 2>&1"
$code = $LASTEXITCODE

# 0 done; 4 the previous night still running; 75 stopped early (the next start resumes).
# Anything else needs a person: 1 rows to fix (failed.csv), 2 bad input or config,
# 3 credentials refused, 130 stopped by a signal.
if ($code -notin 0, 4, 75) {
    $message = "pcbatch nightly run: exit $code, see $log"
    # An Error in the Application event log, which monitoring and Event Viewer pick up.
    eventcreate /T ERROR /ID 175 /L APPLICATION /SO pcbatch /D $message | Out-Null
    Add-Content -Path (Join-Path $logs "ALERTS.txt") -Value "$stamp $message"
}

Get-ChildItem -Path $logs -Filter "nightly-*.log" |
    Sort-Object Name -Descending |
    Select-Object -Skip $Keep |
    Remove-Item -Force

exit $code
