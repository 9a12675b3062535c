/* Replaced by the real daemon in the next commit. */
int
main (void)
{
  return 1;
}
