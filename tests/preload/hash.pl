# hash.pl: build and delete a large Perl hash for the preload test.
use strict;
use warnings;
my %h;
for my $i (1 .. 400000) {
	$h{"key$i"} = "v" x ($i % 61) . $i;
}
my $total = 0;
$total += length($h{$_}) for keys %h;
print "keys ", scalar(keys %h), " bytes $total\n";
for my $i (1 .. 400000) {
	delete $h{"key$i"} if $i % 3;
}
print "left ", scalar(keys %h), "\n";
my @sorted = (sort { $a cmp $b } keys %h)[0 .. 4];
print "first @sorted\n";
%h = ();
print "empty ", scalar(keys %h), "\n";
