/* main.c — starts the application; everything else lives in starling_app. */
#include "starling-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(StarlingApplication) app = starling_application_new ();

  return g_application_run (G_APPLICATION (app), argc, argv);
}
