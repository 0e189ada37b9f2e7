<?php
// examples/php/index.php - a legacy host page embedding exportd's widget.
//
// The application has already logged its user in (here: fixed values); its
// server code mints a short-lived embed token for that user's workspace and
// email and puts it in the page.  No API key, no inline script: the page
// works under the strict Content-Security-Policy it sends.
//
// Run by php-cgi under lighttpd (examples/php/lighttpd.conf), on the same
// origin as the API.  Environment: EXPORTD_EMBED_SECRET (the first of
// embed.secrets); EXPORTD_API_BASE (where export.fcgi is mounted, i.e.
// http.base_path; "" by default); EXPORTD_EXAMPLE_WORKSPACE (the signed-in
// user's workspace); EXPORTD_EXAMPLE_TESTING=1 lets the
// browser tests ask for ?workspace= and an already expired ?lifetime=.
require __DIR__ . '/embed_token.php';

function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_HTML5, 'UTF-8');
}

$secret = getenv('EXPORTD_EMBED_SECRET') ?: '';
$api = rtrim(getenv('EXPORTD_API_BASE') ?: '', '/');
$workspace = getenv('EXPORTD_EXAMPLE_WORKSPACE') ?: 'acme';
$email = 'demo.user@example.com';
$lifetime = 3600;
$type = 'contacts';
if (isset($_GET['type']) && preg_match('/^[a-z_][a-z0-9_]{0,62}$/', $_GET['type'])) {
    $type = $_GET['type'];
}
if (getenv('EXPORTD_EXAMPLE_TESTING') === '1') {
    if (isset($_GET['workspace']) && preg_match('/^[A-Za-z0-9_-]{1,64}$/', $_GET['workspace'])) {
        $workspace = $_GET['workspace'];
    }
    if (isset($_GET['lifetime']) && preg_match('/^-?[0-9]{1,6}$/', $_GET['lifetime'])) {
        $lifetime = (int)$_GET['lifetime'];
    }
}
$token = exportd_embed_token($secret, $workspace, $email, $lifetime);
$view = ($_GET['view'] ?? '') === 'downloads' ? 'downloads' : 'export';

header("Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
     . "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; "
     . "frame-ancestors 'none'");
header('Referrer-Policy: no-referrer');
header('Cache-Control: no-store');
?>
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><?= $view === 'downloads' ? 'Your exports' : 'Contacts' ?> - Example CRM</title>
<link rel="stylesheet" href="<?= h($api) ?>/web/exportd.css">
<script src="<?= h($api) ?>/web/exportd.js" defer></script>
</head>
<body>
<header><nav aria-label="Main">
<a href="?type=<?= h($type) ?>">Export</a> |
<a href="?view=downloads">Your exports</a>
</nav></header>
<main>
<?php if ($view === 'downloads'): ?>
<h1>Your exports</h1>
<div data-exportd-downloads data-token="<?= h($token) ?>" data-page-size="10"></div>
<?php else: ?>
<h1>Export <?= h($type) ?></h1>
<p>Signed in as <?= h($email) ?> (<?= h($workspace) ?>).</p>
<div data-exportd-export data-token="<?= h($token) ?>" data-type="<?= h($type) ?>"
     data-format="csv" data-label="Export <?= h($type) ?> to CSV"></div>
<?php endif; ?>
</main>
</body>
</html>
