<?php
// Mint an exportd embed token with PHP's standard functions only
// (docs/CONTRACTS.md "Embed token").  Copy exportd_embed_token() into the
// host application and call it in the page's server code; the secret is the
// first of exportd's embed.secrets and never reaches the browser.
function exportd_embed_token(string $secret, string $workspace, string $email,
                             int $lifetime = 3600): string
{
    $b64url = fn(string $s): string => rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
    $signed = 'exe1.' . $b64url($workspace . "\n" . $email . "\n" . (time() + $lifetime));
    return $signed . '.' . $b64url(hash_hmac('sha256', $signed, $secret, true));
}
