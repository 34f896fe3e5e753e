"""What a report section is written with, below the analyses that write their own sections: Markdown tables and
images (`markdown`), palettes and plateau shading (`figures`), and one run's analyses as a section reads them
(`run_analyses`). The report (analyzer/report/) assembles the sections; the study's claims use the same blocks."""
