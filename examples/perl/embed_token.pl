#!/usr/bin/perl
# Mint an exportd embed token with Perl's core modules only
# (docs/CONTRACTS.md "Embed tokens").  Copy exportd_embed_token() into the
# host application; run as a script it prints one token:
#   EXPORTD_EMBED_SECRET=... embed_token.pl WORKSPACE EMAIL [LIFETIME_SECONDS]
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);

# $workspace and $email as UTF-8 bytes; $secret: the first of embed.secrets.
sub exportd_embed_token {
    my ($secret, $workspace, $email, $lifetime) = @_;
    my $expiry = time() + ($lifetime // 3600);
    my $signed = 'exe1.' . encode_base64url("$workspace\n$email\n$expiry");
    return $signed . '.' . encode_base64url(hmac_sha256($signed, $secret));
}

print exportd_embed_token($ENV{EXPORTD_EMBED_SECRET}, $ARGV[0], $ARGV[1], $ARGV[2]), "\n";
